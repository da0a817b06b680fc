import assert from 'node:assert/strict';
import { renderStatus, StatusInput } from '../../../src/vscode/statusModel';

function input(overrides: Partial<StatusInput> = {}): StatusInput {
  return {
    agentsHere: 3,
    agentsAll: 12,
    windows: 4,
    busy: 0,
    idle: 3,
    starting: 0,
    queued: 0,
    p95Ms: 1400,
    errorRate: 0.005,
    budget: { cap: 16, used: 12 },
    circuits: [],
    windowList: [],
    ...overrides,
  };
}

describe('renderStatus', () => {
  it('shows this window / all windows (window count)', () => {
    const view = renderStatus(input());
    assert.equal(view.text, '$(hubot) 3/12 (4)');
    assert.equal(view.background, undefined);
    assert.match(view.tooltip, /\| p95 \| 1\.40 s \|/);
    assert.match(view.tooltip, /\| Errors \| 0\.50% \|/);
    assert.match(view.accessibilityLabel, /3 agents in this window, 12 in all 4 windows/);
  });

  it('spins while agents start or work', () => {
    assert.equal(renderStatus(input({ busy: 1 })).text, '$(sync~spin) 3/12 (4)');
    assert.equal(renderStatus(input({ starting: 1 })).text, '$(sync~spin) 3/12 (4)');
  });

  it('warns when the budget is exhausted or a circuit is open', () => {
    assert.equal(renderStatus(input({ budget: { cap: 12, used: 12 } })).background, 'warning');
    const open = renderStatus(input({ circuits: [{ profile: 'claude', state: 'open', reason: 'Authentication required' }] }));
    assert.equal(open.background, 'warning');
    assert.match(open.tooltip, /claude: open — Authentication required/);
  });

  it('shows an error when no agent can start, with the reason', () => {
    const view = renderStatus(input({ cannotStartReason: 'Restricted Mode: agents are not started in untrusted workspaces.' }));
    assert.equal(view.background, 'error');
    assert.match(view.tooltip, /Restricted Mode/);
    assert.match(view.accessibilityLabel, /cannot start agents/);
  });

  it('lists each window and marks unresponsive ones', () => {
    const view = renderStatus(
      input({
        windowList: [
          { name: 'api', agents: 2, busy: 1, health: 'live', isSelf: true, heartbeatAgeMs: 100 },
          { name: 'web', agents: 1, busy: 0, health: 'unresponsive', isSelf: false, heartbeatAgeMs: 20_000 },
        ],
      }),
    );
    assert.match(view.tooltip, /- api \(this window\): 2 agents, 1 busy\n- web: 1 agent, 0 busy — unresponsive/);
  });

  it('shows tokens, cost and context per window and across windows', () => {
    const view = renderStatus(
      input({
        usage: {
          windows: [
            { name: 'api', isSelf: true, inputTokens: 12_000, outputTokens: 3000, costUsd: 0.03, context: { used: 15_000, size: 200_000, conversations: 1 } },
            { name: 'web', isSelf: false, inputTokens: 500, outputTokens: 0, costUsd: 0 },
          ],
          all: { inputTokens: 12_500, outputTokens: 3000, costUsd: 0.03, context: { used: 15_000, size: 200_000, conversations: 1 } },
        },
      }),
    );
    assert.match(view.tooltip, /\| api \(this window\) \| 15k \| \$0\.0300 \| 15k\/200k \(7\.5%\) in 1 conversation \|/);
    assert.match(view.tooltip, /\| web \| 500 \| - \| – \|/);
    assert.match(view.tooltip, /\| All windows \| 15\.5k \| \$0\.0300 \| 15k\/200k \(7\.5%\) in 1 conversation \|/);
  });
});
