/**
 * `@agents` in the Chat view, driven the way a person does: the query goes into the Chat view's
 * input and is submitted; `blockOnResponse` makes the command wait for the answer and hand back
 * what the participant returned (its metadata), while the streamed text is read from what the
 * participant wrote into the thread.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import type { AgentChatMetadata } from '../../src/vscode/chat/chatParticipant';
import { activeExtension, report, waitUntil } from './helpers';
import { clickInPage, renderedPageText, takeScreenshot } from './screenshots';

/** The answers in the Chat view, as a person reads them. */
const RESPONSES = '.interactive-response';

interface ChatOpenResult {
  timings?: { firstProgress?: number; totalElapsed?: number };
  metadata?: AgentChatMetadata;
  errorDetails?: { message: string };
}

async function ask(query: string): Promise<ChatOpenResult> {
  const result = (await vscode.commands.executeCommand('workbench.action.chat.open', {
    query,
    isPartialQuery: false,
    blockOnResponse: true,
    modelSelector: { vendor: 'agent-pool' },
  })) as ChatOpenResult | undefined;
  assert.ok(result, `the Chat view returned nothing for "${query}"`);
  return result;
}

function demoAgents(api: ExtensionExports): string[] {
  return (api.metrics().pools.find((p) => p.profile === 'demo')?.agents ?? []).filter((a) => a.state === 'idle' || a.state === 'busy').map((a) => a.id);
}

describe('@agents in the Chat view', function () {
  this.timeout(120_000);
  let api: ExtensionExports;

  before(async () => {
    api = await activeExtension();
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await waitUntil(api, () => demoAgents(api).length >= 1, 'a warm demo agent');
  });

  it('streams the answer and continues the conversation on the second turn', async () => {
    await vscode.commands.executeCommand('workbench.action.chat.newChat');
    let settled = false;
    const asked = ask('@agents /demo /demo chunks=4 latency=2400 thought tool plan\nhello from the chat test').finally(() => (settled = true));
    // Streamed: the thread shows the answer's first chunk while the turn is still running.
    const partial = await renderedPageText(RESPONSES, 'hello');
    if (partial !== undefined) {
      assert.equal(settled, false, 'the answer appeared only once the turn had ended');
      assert.doesNotMatch(partial, /hello from the chat test/, 'the whole answer appeared at once');
    }
    const first = await asked;
    const shown = await renderedPageText(RESPONSES, 'hello from the chat test');
    if (shown !== undefined) {
      assert.match(shown, /Plan/, 'the plan is not shown');
      assert.doesNotMatch(shown, /end_turn/);
    }
    assert.equal(first.errorDetails, undefined, `the first turn failed: ${first.errorDetails?.message}`);
    const one = first.metadata!;
    assert.ok(one, 'the participant returned no metadata');
    assert.equal(one.outcome, 'answered');
    assert.equal(one.profile, 'demo');
    assert.equal(one.turn, 1);
    report(`chat turn 1: first progress after ${first.timings?.firstProgress} ms, answer after ${first.timings?.totalElapsed} ms`);

    const second = await ask('@agents /demo /demo chunks=2\nand a follow-up');
    const two = second.metadata!;
    assert.equal(two.outcome, 'answered');
    assert.equal(two.turn, 2, 'the second turn did not see the first one in its thread');
    assert.equal(two.conversation, one.conversation, 'the second turn started another conversation');
    assert.equal(two.sessionId, one.sessionId, 'the second turn ran in another agent session: the agent lost the context');
    assert.equal(two.agentId, one.agentId);
    await renderedPageText(RESPONSES, 'and a follow-up');
    await takeScreenshot('chat-thread', { settleMs: 1200 });
  });

  it('shows the time waited for the agent\'s first output, counting up, until the answer starts', async () => {
    await vscode.commands.executeCommand('workbench.action.chat.newChat');
    // The demo agent stays silent for 3.5 s before its one chunk: the thread must say so meanwhile.
    const asked = ask('@agents /demo /demo latency=3500\nslow to start');
    const counting = await renderedPageText(RESPONSES, "waiting for demo's first output · 2 s");
    if (counting !== undefined) {
      assert.doesNotMatch(counting, /slow to start/, 'the waiting line came only with the answer');
      assert.equal(counting.match(/first output/g)?.length, 1, `one line that updates, not a line per second: ${counting}`);
    }
    await takeScreenshot('chat-waiting-for-first-output', { settleMs: 300 });
    const result = await asked;
    assert.equal(result.metadata?.outcome, 'answered', result.errorDetails?.message);
    const shown = await renderedPageText(RESPONSES, 'slow to start');
    if (shown !== undefined) assert.doesNotMatch(shown, /waiting for demo's first output/, 'the waiting line stayed after the answer came');
    await takeScreenshot('chat-after-first-output', { settleMs: 800 });
  });

  it('cancel in the Chat view stops the turn', async () => {
    await vscode.commands.executeCommand('workbench.action.chat.newChat');
    const busyBefore = api.metrics().pools.find((p) => p.profile === 'demo')?.agents.filter((a) => a.state === 'busy').length ?? 0;
    const asked = ask('@agents /demo /demo hang\nwait for me');
    await waitUntil(api, () => (api.metrics().pools.find((p) => p.profile === 'demo')?.agents.filter((a) => a.state === 'busy').length ?? 0) > busyBefore, 'the agent to be busy with the turn');
    const answersBefore = api.testing.chatAnswers.length;
    const started = Date.now();
    // The Chat view's own cancel (its input's "Cancel (Ctrl+Escape)" button runs this command).
    await vscode.commands.executeCommand('workbench.action.chat.cancel');
    await asked;
    report(`chat cancel: the turn ended ${Date.now() - started} ms after the Chat view's cancel`);
    // The Chat view drops a cancelled turn's result, so the participant's own record tells.
    assert.equal(api.testing.chatAnswers.at(-1)?.outcome, 'cancelled', JSON.stringify(api.testing.chatAnswers.slice(answersBefore - 1)));
    await waitUntil(api, () => (api.metrics().pools.find((p) => p.profile === 'demo')?.agents.filter((a) => a.state === 'busy').length ?? 0) === busyBefore, 'the agent to be free again');
    await takeScreenshot('chat-cancelled', { settleMs: 800 });
  });

  for (const [choice, optionId, outcome] of [
    ['Allow once', 'allow', 'granted'],
    ['Reject', 'reject', 'denied'],
  ] as const) {
    it(`asks a permission request as a confirmation in the thread, and "${choice}" answers the agent`, async () => {
      await vscode.commands.executeCommand('workbench.action.chat.newChat');
      const asked = api.testing.chatPermissions.length;
      const answer = ask('@agents /demo /demo permission=edit\nchange demo.txt');
      await waitUntil(api, () => api.testing.chatPermissions.length > asked, 'the permission question in the thread');
      const question = api.testing.chatPermissions.at(-1)!;
      assert.deepEqual(question.optionIds, ['allow', 'allow-always', 'reject'], 'the thread does not offer exactly the agent\'s own options');
      const shown = await renderedPageText(RESPONSES, 'asks permission');
      if (shown !== undefined) assert.match(shown, /demo asks permission: Demo edit of demo\.txt/);
      // As a person does: a click on the button in the thread (desktop VS Code: the button's own command).
      if (!(await clickInPage(RESPONSES, choice))) await vscode.commands.executeCommand('agentPool.answerPermission', question.id, optionId);
      const result = await answer;
      assert.equal(result.metadata?.outcome, 'answered', result.errorDetails?.message);
      const thread = await renderedPageText(RESPONSES, `permission ${outcome} (${optionId})`);
      if (thread !== undefined) assert.match(thread, new RegExp(`You chose: ${choice}\\.`));
      if (choice === 'Allow once') await takeScreenshot('chat-permission-answered', { settleMs: 800 });
    });
  }
});
