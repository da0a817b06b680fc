import assert from 'node:assert/strict';
import type { InstanceView } from '../../../src/core/registry/types';
import type { PoolSnapshot } from '../../../src/core/pool/events';
import type { ConversationView } from '../../../src/core/service/conversations';
import { buildTree, formatAge, formatTokens, poolProblem, windowNames, type DashboardState, type TreeNode } from '../../../src/vscode/treeModel';
import { TreeReconciler } from '../../../src/vscode/treeReconciler';
import { parseLimits } from '../../../src/vscode/limits';

function pool(overrides: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return {
    profile: 'demo',
    minAgents: 1,
    maxAgents: 4,
    strategy: 'least-busy',
    queueDepth: 1,
    circuit: { state: 'closed' },
    closed: false,
    agents: [
      { id: 'demo-1', profile: 'demo', pid: 10, state: 'busy', turns: 3, startedAt: 0, currentTask: 'fix the tests', rssBytes: 80 * 2 ** 20, restarts: 0 },
      { id: 'demo-2', profile: 'demo', pid: 11, state: 'idle', turns: 1, startedAt: 0, restarts: 1 },
    ],
    ...overrides,
  };
}

function instance(id: string, name: string, health: InstanceView['health'], isSelf = false): InstanceView {
  return {
    record: {
      schema: 1, id, pid: 1, processStartTime: '1', hostname: 'h', workspaceName: name, workspaceFolders: [], extensionVersion: '0',
      startedAt: 0, lifecycle: 'ACTIVE', heartbeatSeq: 1, heartbeatAt: 0,
    },
    health,
    heartbeatAgeMs: 20_000,
    isSelf,
  };
}

function state(overrides: Partial<DashboardState> = {}): DashboardState {
  return {
    pools: [pool()],
    agentMetrics: new Map(),
    instances: [instance('self', 'api', 'live', true), instance('w2', 'web', 'unresponsive')],
    windowFigures: new Map([['w2', { agents: 3, busy: 1 }]]),
    totals: { agentsHere: 2, agentsAll: 5, windows: 2, busy: 2, queued: 1, prompts: 10, errorRate: 0.1, tokens: 0, unresponsive: 1, budget: { cap: 8, used: 5 } },
    pairs: [],
    sessions: [],
    now: 0,
    wallNow: 90 * 60_000,
    ...overrides,
  };
}

function conversation(overrides: Partial<ConversationView> = {}): ConversationView {
  return {
    key: 'k',
    profile: 'demo',
    sessionId: 's-1',
    agentId: undefined,
    turns: 1,
    usage: { costUsd: 0, inputTokens: 0, outputTokens: 0 },
    lastUsedAt: 0,
    createdAt: 0,
    contextLost: 0,
    workspace: { name: 'api', folders: [] },
    owner: { instanceId: 'self', pid: 1, label: 'api' },
    here: overrides.agentId !== undefined,
    ...overrides,
  };
}

function find(nodes: TreeNode[], id: string): TreeNode {
  for (const node of nodes) {
    if (node.id === id) return node;
    const inner = node.children && findOrUndefined(node.children, id);
    if (inner) return inner;
  }
  throw new Error(`no node ${id}`);
}

function findOrUndefined(nodes: TreeNode[], id: string): TreeNode | undefined {
  try {
    return find(nodes, id);
  } catch {
    return undefined;
  }
}

describe('buildTree', () => {
  it('has This Window, Other Windows and Totals, and Conversations and Module Pairs only once used', () => {
    assert.deepEqual(buildTree(state()).map((n) => n.label), ['This Window', 'Other Windows', 'Totals']);
    const used = { key: 'k', profile: 'demo', prompts: { total: 3, succeeded: 3, failed: 0, cancelled: 0, timedOut: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, firstEventMs: { count: 0 }, completionMs: { count: 0 } }, affinityHits: 0, affinityChances: 0, affinity: 0 } as never;
    const tree = buildTree(state({ sessions: [used], conversations: [conversation({ key: 'k', turns: 3 })], pairs: [{ ...(used as object), source: 'a', target: 'b' } as never] }));
    assert.deepEqual(tree.map((n) => n.label), ['This Window', 'Other Windows', 'Totals', 'Conversations', 'Module Pairs']);
    assert.equal(find(tree, 'conversation/k').description, '3 turns');
  });

  it('shows a conversation\'s context use in a short row, and the rest in its tooltip', () => {
    const tree = buildTree(
      state({
        conversations: [conversation({ key: 'chat-1', agentId: 'demo-1', usage: { costUsd: 0.03, sessionCostUsd: 0.03, inputTokens: 1200, outputTokens: 300, contextUsed: 15_000, contextSize: 200_000 } })],
        conversationTitles: new Map([['chat-1', 'fix the login bug']]),
      }),
    );
    const row = find(tree, 'conversation/chat-1');
    assert.equal(row.label, 'fix the login bug');
    assert.equal(row.description, '15k/200k');
    assert.equal(row.contextValue, 'conversation');
    assert.equal(row.conversationKey, 'chat-1');
    assert.match(row.tooltip!, /Context: 15k\/200k \(7\.5%\)/);
    assert.match(row.tooltip!, /Tokens: 1\.2k in, 300 out/);
    assert.match(row.tooltip!, /Cost: \$0\.0300/);
    assert.match(row.tooltip!, /on demo-1 in this window/);
  });

  it('marks a conversation whose earlier context was lost, in the row and its icon', () => {
    const tree = buildTree(state({ conversations: [conversation({ key: 'k', contextLost: 1, contextLostReason: 'demo-2 cannot resume or load sessions', usage: { costUsd: 0, inputTokens: 0, outputTokens: 0, contextUsed: 5000, contextSize: 200_000 } })] }));
    const row = find(tree, 'conversation/k');
    assert.equal(row.description, 'context lost · 5k/200k');
    assert.equal(row.icon?.id, 'warning');
    assert.equal(row.contextValue, 'conversation.lost');
    assert.match(row.tooltip!, /Earlier context lost 1 time: demo-2 cannot resume or load sessions/);
    assert.equal(find(tree, 'section/conversations').description, '1 · 1 lost context');
  });

  it('keeps rows short: state and turns, the figures in the tooltip', () => {
    const tree = buildTree(state());
    const busy = find(tree, 'agent/demo-1');
    assert.equal(busy.label, 'demo-1: fix the tests');
    assert.equal(busy.contextValue, 'agent.busy');
    assert.equal(busy.icon?.id, 'sync~spin');
    assert.equal(busy.description, 'busy · 3 turns');
    assert.match(busy.tooltip!, /Memory: 80 MB/);
    assert.equal(find(tree, 'agent/demo-2').description, 'idle · 1 turn');
    const poolNode = find(tree, 'pool/demo');
    assert.equal(poolNode.contextValue, 'pool');
    assert.equal(poolNode.description, '2 agents · 1 busy · 1 queued');
    assert.match(poolNode.tooltip!, /Routing: least-busy/);
  });

  it('never shows the age of an agent that has not started, and keeps ages out of the row', () => {
    const starting = pool({ agents: [{ id: 'demo-3', profile: 'demo', state: 'starting', turns: 0, startedAt: 0, restarts: 0 }] });
    const node = find(buildTree(state({ pools: [starting], wallNow: Date.now() })), 'agent/demo-3');
    assert.equal(node.description, 'starting');
    assert.doesNotMatch(node.tooltip!, /\d+d/);
  });

  it('marks other windows that are not responding and leaves this window out of them', () => {
    const others = find(buildTree(state()), 'section/other-windows');
    assert.equal(others.children!.length, 1);
    assert.equal(others.children![0].label, 'web');
    assert.equal(others.children![0].description, '3 agents · 1 busy · not responding · ACTIVE');
    assert.match(others.children![0].tooltip!, /Last heartbeat 20s ago/);
    assert.equal(others.children![0].contextValue, 'window.unresponsive');
  });

  it('shows each window\'s lifecycle: this one from the service, the others from their records', () => {
    const idleOther = instance('w3', 'docs', 'live');
    idleOther.record.lifecycle = 'COMPLETING';
    const tree = buildTree(state({ lifecycle: 'ACTIVE', instances: [instance('self', 'api', 'live', true), instance('w2', 'web', 'unresponsive'), idleOther] }));
    const here = find(tree, 'section/this-window');
    assert.equal(here.description, '2 agents · ACTIVE');
    assert.equal(here.tooltip, 'This window is ACTIVE: an agent is working');
    const others = find(tree, 'section/other-windows').children!;
    assert.deepEqual(others.map((node) => node.description!.split(' · ').at(-1)), ['ACTIVE', 'COMPLETING']);
    assert.match(others[1].tooltip!, /^w3 \(COMPLETING: shutting down\)/);
  });

  it('tells windows with the same name apart', () => {
    const a = instance('a', 'main', 'live');
    const b = instance('b', 'main', 'live');
    a.record.workspaceFolders = ['/home/u/work/api/main'];
    b.record.workspaceFolders = ['/home/u/work/web/main'];
    const names = windowNames([a, b, instance('c', 'other', 'live')]);
    assert.equal(names.get('a'), 'main · work/api');
    assert.equal(names.get('b'), 'main · work/web');
    assert.equal(names.get('c'), 'other');
    b.record.workspaceFolders = ['/home/u/work/api/main'];
    b.record.hostname = 'laptop';
    assert.equal(windowNames([a, b]).get('b'), 'main · laptop');
  });

  it('keeps Totals collapsed', () => {
    assert.equal(find(buildTree(state()), 'section/totals').expanded, false);
    assert.equal(formatTokens(15_400), '15k');
    assert.equal(formatTokens(1_200), '1.2k');
  });

  it('shows a failed pool as failed, in words a person acts on', () => {
    const at = (reason: string, retryAt?: number) => pool({ circuit: { state: 'open', reason, retryAt } });
    const missing = at('Agent profile "x" (command "nope") could not start: the program "nope" was not found on PATH or is not executable. [AGENT_BINARY_NOT_FOUND]');
    assert.equal(poolProblem(missing, 0)?.short, 'not installed');
    assert.doesNotMatch(poolProblem(missing, 0)!.detail, /AGENT_BINARY_NOT_FOUND/);
    assert.equal(poolProblem(at('answered session/new with error -32000: Authentication required. [AGENT_AUTH_REQUIRED]'), 0)?.short, 'sign-in needed');
    const retryAt = new Date(2026, 0, 1, 12, 3).getTime();
    assert.equal(poolProblem(at('5 failures in a row, the last: boom', retryAt), retryAt - 60_000)?.short, 'circuit open until 12:03');
    const node = find(buildTree(state({ pools: [missing] })), 'pool/demo');
    assert.equal(node.description, 'not installed');
    assert.equal(node.contextValue, 'pool.failed');
  });
});

describe('TreeReconciler', () => {
  it('redraws nothing when nothing a row shows has changed, though tooltips and ages moved', () => {
    const reconciler = new TreeReconciler();
    assert.equal(reconciler.update(buildTree(state())).rootsChanged, true);
    const before = find([...reconciler.roots], 'window/w2');
    const later = buildTree(state({ wallNow: 95 * 60_000, instances: [instance('self', 'api', 'live', true), { ...instance('w2', 'web', 'unresponsive'), heartbeatAgeMs: 40_000 }] }));
    const result = reconciler.update(later);
    assert.deepEqual(result, { rootsChanged: false, changed: [] });
    const after = find([...reconciler.roots], 'window/w2');
    assert.equal(after, before, 'the row object was replaced');
    assert.match(after.tooltip!, /40s ago/, 'the tooltip did not follow');
  });

  it('names only the rows that changed, and the parent whose children changed', () => {
    const reconciler = new TreeReconciler();
    reconciler.update(buildTree(state()));
    const agent = find([...reconciler.roots], 'agent/demo-2');
    const busier = pool();
    busier.agents[1] = { ...busier.agents[1], turns: 2 };
    assert.deepEqual(reconciler.update(buildTree(state({ pools: [busier] }))).changed.map((n) => n.id), ['agent/demo-2']);
    assert.equal(find([...reconciler.roots], 'agent/demo-2'), agent);
    assert.equal(agent.description, 'idle · 2 turns');
    const replaced = pool({ agents: [pool().agents[0], { ...pool().agents[1], id: 'demo-3', turns: 0 }] });
    assert.deepEqual(reconciler.update(buildTree(state({ pools: [replaced] }))).changed.map((n) => n.id), ['pool/demo'], 'the parent of a replaced agent alone');
    const fewer = pool({ agents: [pool().agents[0]] });
    assert.deepEqual(reconciler.update(buildTree(state({ pools: [fewer] }))).changed.map((n) => n.id), ['section/this-window'], 'a redrawn ancestor covers its rows');
  });
});

describe('formatAge and parseLimits', () => {
  it('formats ages', () => {
    assert.equal(formatAge(5_000), '5s');
    assert.equal(formatAge(125_000), '2m');
    assert.equal(formatAge(3 * 3600_000), '3h');
    assert.equal(formatAge(-1), '–');
  });

  it('parses "min-max" and refuses nonsense', () => {
    assert.deepEqual(parseLimits('1-4'), { minAgents: 1, maxAgents: 4 });
    assert.deepEqual(parseLimits(' 0 , 2 '), { minAgents: 0, maxAgents: 2 });
    assert.equal(parseLimits('4-1'), undefined);
    assert.equal(parseLimits('0-0'), undefined);
    assert.equal(parseLimits('a-b'), undefined);
  });
});
