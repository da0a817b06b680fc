/**
 * Shared pieces of the pool benchmarks: percentiles, a raw ACP SDK client to the demo agent (the
 * same-process baseline for dispatch, throughput and soak), and an in-memory agent for acquire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { AgentConnection, AgentExit, AgentHealth, AgentProfile, PromptRequest, PromptResult } from '../src/core/agents/adapter';
import { createAgentConnection } from '../src/core/agents/factory';
import { builtinProfiles } from '../src/core/agents/profiles';
import { repoRoot } from '../test/fixtures/repoRoot';
import type { ProcessIdentity } from '../src/core/process/identity';
import { InProcessBudget } from '../test/fixtures/inProcessBudget';
import { Emitter } from '../src/core/common/event';
import { AgentPool } from '../src/core/pool/pool';
import type { PoolOptions } from '../src/core/pool/options';

export const DIST = path.join(repoRoot(), 'dist');

export function demoProfile(): AgentProfile {
  return builtinProfiles(DIST).demo;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A pool of real demo agents with recycling off: the benchmarks measure dispatch, not replacement. */
export function benchPool(options: Partial<PoolOptions> = {}): AgentPool {
  return new AgentPool({
    profile: demoProfile(),
    createConnection: createAgentConnection,
    budget: new InProcessBudget(16),
    cwd: process.cwd(),
    recycleMaxTurns: 0,
    recycleMaxAgeMs: 0,
    recycleMaxMemoryBytes: 0,
    recycleMaxIdleCpuPercent: 0,
    killGraceMs: 500,
    shutdownGraceMs: 100,
    ...options,
  });
}

/** The demo agent driven straight through the ACP SDK client: no pool, no guardian, nothing in between. */
export class RawAcpClient {
  private constructor(
    private readonly child: ChildProcess,
    private readonly connection: { agent: { request(method: unknown, params: unknown): Promise<any> } },
    private readonly methods: any,
  ) {}

  static async start(): Promise<RawAcpClient> {
    const acp = await import('@agentclientprotocol/sdk');
    const profile = demoProfile();
    const child = spawn(profile.command, profile.args, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, ...profile.env } });
    const app = acp.client({ name: 'bench-raw' }).onNotification(acp.methods.client.session.update, () => undefined);
    const connection = app.connect(acp.ndJsonStream(Writable.toWeb(child.stdin!), Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>));
    await connection.agent.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
    });
    return new RawAcpClient(child, connection as never, acp.methods);
  }

  async newSession(): Promise<string> {
    const response = await this.connection.agent.request(this.methods.agent.session.new, { cwd: process.cwd(), mcpServers: [] });
    return response.sessionId as string;
  }

  async prompt(sessionId: string, text: string): Promise<string> {
    const response = await this.connection.agent.request(this.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text }] });
    return response.stopReason as string;
  }

  /** SIGKILL without waiting: for timing what a process dying at that moment costs everything else. */
  killNow(): void {
    this.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** An agent with no process at all, so acquire benchmarks measure only pool bookkeeping. */
export class InMemoryAgent implements AgentConnection {
  readonly lifetime = 'long-lived' as const;
  readonly process: ProcessIdentity = { pid: 1, startTime: 'bench' };
  private readonly exits = new Emitter<AgentExit>();
  private readonly spawns = new Emitter<ProcessIdentity>();
  readonly onDidExit = this.exits.event;
  readonly onDidSpawn = this.spawns.event;
  private alive = true;

  constructor(readonly profile: AgentProfile) {}
  async start(): Promise<void> {}
  async openSession(): Promise<string> {
    return 'session';
  }
  async prompt(_request: PromptRequest): Promise<PromptResult> {
    return { stopReason: 'end_turn', text: '', totalMs: 0 };
  }
  async cancel(): Promise<void> {}
  health(): AgentHealth {
    return { alive: this.alive, ready: this.alive, lastActivityAt: 0 };
  }
  async kill(): Promise<void> {
    this.alive = false;
  }
  dispose(): void {
    this.alive = false;
  }
}
