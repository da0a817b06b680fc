/**
 * Asks the launcher to photograph the workbench now (code-server host only; a no-op under desktop
 * VS Code). Waits a moment for the UI to paint what the test just did, since a screenshot of a
 * half-rendered view helps nobody.
 */
export async function takeScreenshot(name: string, settleMs = 800): Promise<void> {
  const url = process.env.AGENT_POOL_SCREENSHOT_URL;
  if (!url) return;
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const response = await fetch(`${url}?name=${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`screenshot ${name} failed: ${await response.text()}`);
}
