/**
 * Issue 13 in the real host, from the first moment: the window starts with agentPool.registryDirectory
 * naming a regular file (prepare.mjs writes it into the Machine settings). Within 2 s of activation the
 * status bar shows the error naming the directory and the cause; Run Prompt and the API's run fail in
 * under 2 s with the same (not after the 60 s acquire timeout with "the budget is exhausted"); the host
 * lives on and the Agents view still renders.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import type { RunPromptOutcome } from '../../src/vscode/runPrompt';
import { activeExtension, EXTENSION_ID, report, waitUntil } from '../integration/helpers';
import { renderedPageText, takeScreenshot } from '../integration/screenshots';

const FAIL_FAST_MS = 2_000;
const NOT_A_DIRECTORY = /a file stands where a directory should be \(ENOTDIR\)/;

describe('Agent Pool starting on a registry directory that is a file', function () {
  this.timeout(60_000);
  const directory = process.env.AGENT_POOL_TEST_REGISTRY_FILE ?? '';
  let api: ExtensionExports;
  let activeBeforeTests = false;
  let sinceActivationStartMs = 0;

  before(async () => {
    assert.ok(directory, 'AGENT_POOL_TEST_REGISTRY_FILE is not set: run this suite with AGENT_POOL_TEST_SUITE=unusableStart');
    activeBeforeTests = vscode.extensions.getExtension(EXTENSION_ID)?.isActive ?? false;
    // Taken before activate() when the tests trigger activation, so the 2 s below count from activation itself.
    const started = performance.now();
    api = await activeExtension();
    await waitUntil(
      api,
      () => api.testing.statusView()?.background === 'error' && api.testing.statusView()!.accessibilityLabel.includes(directory),
      'the status bar to show the registry directory error',
      10_000,
    );
    sinceActivationStartMs = Math.round(performance.now() - started);
    assert.equal(api.testing.service.directory, directory, 'the window did not start on the registry directory of the Machine settings');
  });

  it('the status bar shows the error within 2 s of activation, naming the directory and the cause', () => {
    report(
      `unusable from the start (not a directory): status bar error ${sinceActivationStartMs} ms after ${activeBeforeTests ? 'the tests started (the extension was already active)' : 'activation started'}; activation took ${api.testing.activationMs.toFixed(0)} ms`,
    );
    assert.ok(sinceActivationStartMs < FAIL_FAST_MS, `the status bar showed the error ${sinceActivationStartMs} ms after activation (goal < ${FAIL_FAST_MS})`);
    const label = api.testing.statusView()!.accessibilityLabel;
    assert.ok(label.includes(directory), `the status bar did not name ${directory}: ${label}`);
    assert.match(label, NOT_A_DIRECTORY, 'the status bar did not give the cause');
  });

  it('Run Prompt and the API run fail in under 2 s naming the directory and the cause, not the budget', async () => {
    const failures: Record<string, number> = {};
    const expectFastFailure = async (what: string, attempt: () => Promise<unknown>) => {
      const started = performance.now();
      const error = await attempt().then(
        () => undefined,
        (caught: unknown) => caught as Error,
      );
      const ms = Math.round(performance.now() - started);
      failures[what] = ms;
      assert.ok(error, `${what} did not fail with a file as the registry directory`);
      assert.ok(ms < FAIL_FAST_MS, `${what} took ${ms} ms to fail (goal < ${FAIL_FAST_MS})`);
      assert.ok(error.message.includes(directory), `${what} did not name ${directory}: ${error.message}`);
      assert.match(error.message, NOT_A_DIRECTORY, `${what} did not give the cause: ${error.message}`);
      assert.doesNotMatch(error.message, /exhausted|became free within/, `${what} blamed the budget: ${error.message}`);
    };
    await expectFastFailure('API run', () => api.run('/demo\nneeds an agent', { profile: 'demo' }));
    await expectFastFailure('Run Prompt', async () => {
      const outcome = (await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', prompt: 'needs an agent', show: false })) as RunPromptOutcome | undefined;
      if (outcome?.error) throw new Error(outcome.error);
      if (outcome) return outcome;
      // No pool could start, so the command ended in its error notification: the time counts until the person sees it.
      const workbench = await renderedPageText('.monaco-workbench', directory);
      const toast = workbench?.split('\n').find((line) => line.includes(directory));
      const logged = api.testing.logLines().findLast((line) => line.startsWith('error') && line.includes(directory));
      throw new Error(toast ?? logged ?? 'Run Prompt ended without an answer, an error or a logged error');
    });
    report(`unusable from the start (not a directory), ms to the error: ${JSON.stringify(failures)}`);
  });

  it('the extension host lives on and the Agents view still renders', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
    // The host answers: the extension is still active and its commands still run.
    assert.ok(vscode.extensions.getExtension(EXTENSION_ID)?.isActive, 'the extension is no longer active');
    await vscode.commands.executeCommand('agentPool.refresh');
    // No profile is chosen in this fresh window, so the view shows its welcome (an empty tree), as in any first start.
    await waitUntil(api, () => (api.testing.treeRoots() as unknown[]).length === 0, 'the empty tree of the welcome');
    const shown = await renderedPageText('.welcome-view-content', 'No agent profile');
    if (shown !== undefined) assert.match(shown, /Use the Built-in Demo Agent/);
    await takeScreenshot('unusable-registry-at-start');
  });
});
