import { Emitter } from '../../../src/core/common/event';
import type { AgentInfo, PoolEvent, PoolSnapshot } from '../../../src/core/pool/events';
import type { PoolEventSource } from '../../../src/core/metrics/collector';

/** A pool as the collector sees it: events the test fires and a snapshot the test sets. */
export class FakePool implements PoolEventSource {
  private readonly emitter = new Emitter<PoolEvent>();
  readonly onDidEmit = this.emitter.event;
  state: PoolSnapshot;

  constructor(profile = 'demo') {
    this.state = {
      profile,
      minAgents: 1,
      maxAgents: 4,
      strategy: 'least-busy',
      agents: [],
      queueDepth: 0,
      circuit: { state: 'closed' },
      closed: false,
    };
  }

  emit(event: PoolEvent): void {
    this.emitter.fire(event);
  }

  setAgents(agents: Array<Partial<AgentInfo> & Pick<AgentInfo, 'id' | 'state'>>): void {
    this.state = {
      ...this.state,
      agents: agents.map((agent) => ({ profile: this.state.profile, turns: 0, startedAt: 1_700_000_000_000, restarts: 0, ...agent })),
    };
  }

  snapshot(): PoolSnapshot {
    return this.state;
  }

  turn(agentId: string, totalMs: number, extra: Partial<Extract<PoolEvent, { type: 'turn-finished' }>> = {}): void {
    this.emit({ type: 'turn-finished', agentId, profile: this.state.profile, outcome: 'succeeded', totalMs, ...extra });
  }
}
