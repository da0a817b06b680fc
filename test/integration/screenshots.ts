/**
 * Asks the launcher to photograph the workbench now (code-server host only; a no-op under desktop
 * VS Code). Waits a moment for the UI to paint what the test just did, since a screenshot of a
 * half-rendered view helps nobody.
 */
export async function takeScreenshot(name: string, options: { settleMs?: number; hover?: string } = {}): Promise<void> {
  const url = process.env.AGENT_POOL_SCREENSHOT_URL;
  if (!url) return;
  await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 800));
  const hover = options.hover ? `&hover=${encodeURIComponent(options.hover)}` : '';
  const response = await fetch(`${url}?name=${encodeURIComponent(name)}${hover}`);
  if (!response.ok) throw new Error(`screenshot ${name} failed: ${await response.text()}`);
}

/**
 * The text a person sees in the webview that shows `contains` (waits up to 15 s for it to render), read by the
 * launcher from the browser; undefined under desktop VS Code, where the extension host cannot look. Throws with
 * what the webviews show instead when none shows it, e.g. a blank webview.
 */
export async function renderedWebviewText(contains: string): Promise<string | undefined> {
  const url = process.env.AGENT_POOL_WEBVIEW_TEXT_URL;
  if (!url) return undefined;
  const response = await fetch(`${url}?contains=${encodeURIComponent(contains)}`);
  const text = await response.text();
  if (!response.ok) throw new Error(text);
  return text;
}

/**
 * The text a person sees in the workbench element `selector` once it shows `contains` (waits up to 15 s), read by the
 * launcher from the browser; undefined under desktop VS Code. Throws with what the element shows instead.
 * `lacks`: once it no longer shows `contains` instead.
 */
export async function renderedPageText(selector: string, contains: string, options: { lacks?: boolean } = {}): Promise<string | undefined> {
  const url = process.env.AGENT_POOL_PAGE_TEXT_URL;
  if (!url) return undefined;
  const response = await fetch(`${url}?selector=${encodeURIComponent(selector)}&contains=${encodeURIComponent(contains)}${options.lacks ? '&lacks=1' : ''}`);
  const text = await response.text();
  if (!response.ok) throw new Error(text);
  return text;
}

/**
 * Clicks the button named `name` in the (last) workbench element `selector`, the way a person does, once it shows
 * (waits up to 15 s); false under desktop VS Code, where the extension host cannot reach the page. Throws when
 * no such button shows.
 */
export async function clickInPage(selector: string, name: string): Promise<boolean> {
  const url = process.env.AGENT_POOL_CLICK_URL;
  if (!url) return false;
  const response = await fetch(`${url}?selector=${encodeURIComponent(selector)}&name=${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(await response.text());
  return true;
}
