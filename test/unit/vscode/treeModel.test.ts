import assert from 'node:assert/strict';
import type { InstanceView } from '../../../src/core/registry/types';
import type { PoolSnapshot } from '../../../src/core/pool/events';
import { buildTree, formatAge, type DashboardState, type TreeNode } from '../../../src/vscode/treeModel';
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
  it('has the five sections in order', () => {
    assert.deepEqual(buildTree(state()).map((n) => n.label), ['This Window', 'Other Windows', 'Totals', 'Module Pairs', 'Sessions']);
  });

  it('shows pools and agents with state, figures, current task and menus by contextValue', () => {
    const tree = buildTree(state());
    const busy = find(tree, 'agent/demo-1');
    assert.equal(busy.label, 'demo-1: fix the tests');
    assert.equal(busy.contextValue, 'agent.busy');
    assert.equal(busy.icon?.id, 'sync~spin');
    assert.match(busy.description!, /^busy · demo · 3 turns · p95 – · 80 MB · 1h 30m$/);
    assert.equal(find(tree, 'agent/demo-2').contextValue, 'agent.idle');
    const poolNode = find(tree, 'pool/demo');
    assert.equal(poolNode.contextValue, 'pool');
    assert.match(poolNode.description!, /2\/4 agents · 1 busy · 1 queued · least-busy/);
  });

  it('marks other windows that are unresponsive and leaves this window out of them', () => {
    const others = find(buildTree(state()), 'section/other-windows');
    assert.equal(others.children!.length, 1);
    assert.equal(others.children![0].label, 'web');
    assert.match(others.children![0].description!, /3 agents · 1 busy · heartbeat 20s ago · UNRESPONSIVE/);
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

  it('shows an open circuit on its pool', () => {
    const tree = buildTree(state({ pools: [pool({ circuit: { state: 'open', reason: 'Authentication required' } })] }));
    const node = find(tree, 'pool/demo');
    assert.match(node.description!, /circuit open/);
    assert.equal(node.tooltip, 'Circuit open: Authentication required');
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
