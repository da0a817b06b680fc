import type { AgentConnection, AgentExit, AgentHealth, AgentProfile, PromptRequest, PromptResult } from '../../../src/core/agents/adapter';
import type { ProcessIdentity } from '../../../src/core/process/identity';
import { Emitter } from '../../../src/core/common/event';

/**
 * An in-memory AgentConnection for the pool logic that involves no process (routing through the
 * pool, scale-down timing, health checks). Turns end when the test calls `finishTurn()`.
 */
export class FakeAgent implements AgentConnection {
  static nextPid = 900_000;
  readonly lifetime = 'long-lived' as const;
  readonly onDidExit;
  readonly onDidSpawn;
  process: ProcessIdentity | undefined;
  alive = false;
  ready = false;
  sessions = 0;
  readonly openTurns: Array<{ request: PromptRequest; resolve: (result: PromptResult) => void }> = [];
  private readonly exitEmitter = new Emitter<AgentExit>();
  private readonly spawnEmitter = new Emitter<ProcessIdentity>();

  constructor(readonly profile: AgentProfile) {
    this.onDidExit = this.exitEmitter.event;
    this.onDidSpawn = this.spawnEmitter.event;
  }

  async start(): Promise<void> {
    this.process = { pid: FakeAgent.nextPid++, startTime: 'fake' };
    this.alive = true;
    this.spawnEmitter.fire(this.process);
    this.ready = true;
  }

  async openSession(): Promise<string> {
    return `fake-session-${++this.sessions}`;
  }

  prompt(request: PromptRequest): Promise<PromptResult> {
    return new Promise((resolve) => this.openTurns.push({ request, resolve }));
  }

  finishTurn(text = 'done'): void {
    const turn = this.openTurns.shift();
    if (!turn) throw new Error('no open turn');
    turn.request.onEvent?.({ kind: 'text', text });
    turn.resolve({ stopReason: 'end_turn', text, totalMs: 0 });
  }

  async cancel(): Promise<void> {
    for (const turn of this.openTurns.splice(0)) turn.resolve({ stopReason: 'cancelled', text: '', totalMs: 0 });
  }

  health(): AgentHealth {
    return { alive: this.alive, ready: this.ready, lastActivityAt: 0 };
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.alive = false;
    this.ready = false;
    this.exitEmitter.fire({ exitCode: null, signal: 'SIGTERM', expected: true, stderrTail: '' });
  }

  dispose(): void {
    void this.kill();
  }
}
