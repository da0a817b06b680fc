import * as os from 'node:os';
import * as path from 'node:path';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AgentConnection, AgentConnectionOptions, AgentProfile } from '../../../src/core/agents/adapter';
import { createAgentConnection } from '../../../src/core/agents/factory';
import { builtinProfiles } from '../../../src/core/agents/profiles';
import { isProcessRunning } from '../../../src/core/process/tree';

export const repoRoot = path.resolve(__dirname, '../../..');
export const distDirectory = path.join(repoRoot, 'dist');
export const fixturesDirectory = path.join(repoRoot, 'test/fixtures/agents');

export function requireBuild(): void {
  for (const bundle of ['demo-agent.js', 'guardian.js']) {
    if (!existsSync(path.join(distDirectory, bundle))) throw new Error(`dist/${bundle} is missing: run npm run build first`);
  }
}

export function demoProfile(overrides: Partial<AgentProfile> = {}, env: Record<string, string> = {}): AgentProfile {
  const base = builtinProfiles(distDirectory).demo!;
  return { ...base, ...overrides, env: { ...base.env, ...env, ...overrides.env } };
}

/** Every connection a test creates, so afterEach can kill what a failing test left running. */
export class ConnectionTracker {
  private readonly connections: AgentConnection[] = [];

  create(profile: AgentProfile, options: Partial<AgentConnectionOptions> = {}): AgentConnection {
    const connection = createAgentConnection(profile, { cwd: os.tmpdir(), ...options });
    this.connections.push(connection);
    return connection;
  }

  async disposeAll(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((connection) => connection.kill(0).catch(() => undefined)));
  }
}

/** Resolves once `pid` is gone, rejects after `timeoutMs`: polls /proc, the only place death shows for a non-child. */
export async function waitForProcessGone(pid: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (isProcessRunning(pid)) {
    if (performance.now() - started > timeoutMs) throw new Error(`process ${pid} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}

export async function waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() - started > timeoutMs) throw new Error(`${what} not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string; stderrTail?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a result');
}

/** The guardian watching `agentPid`: the node process running guardian.js with that pid as argument. */
export function findGuardianOf(agentPid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((arg) => arg.endsWith('guardian.js')) && argv.includes(String(agentPid))) return Number(entry);
    } catch {
      // gone while we looked
    }
  }
  return undefined;
}
