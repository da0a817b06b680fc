import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** One exchange of a session: what was asked and what the demo agent answered. */
export interface DemoTurn {
  prompt: string;
  answer: string;
}

/**
 * A demo session as real agents keep theirs (claude-agent-acp under ~/.claude): on disk, so that
 * another process of the agent can load or resume it by id. Usage figures are the session's
 * running totals, as ACP's `usage_update` reports them.
 */
export interface DemoSession {
  sessionId: string;
  cwd: string;
  turns: DemoTurn[];
  /** Cumulative cost of the session in USD. */
  costUsd: number;
  /** Context tokens in use. */
  usedTokens: number;
  updatedAt: string;
}

/** Where sessions live unless DEMO_AGENT_SESSION_DIR says otherwise: per user, like the real agents' homes. */
export function defaultSessionDirectory(): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `agent-pool-demo-sessions-${user}`);
}

/**
 * The session files of one directory, `<sessionId>.json` each, written whole (temp file, then
 * rename) so a process reading them never sees half a session. Every read goes to the disk: a
 * session another process resumed and continued must not be served from a stale copy.
 */
export class DemoSessionStore {
  constructor(readonly directory: string) {}

  read(sessionId: string): DemoSession | undefined {
    if (!isSafeId(sessionId)) return undefined;
    try {
      const value = JSON.parse(readFileSync(this.file(sessionId), 'utf8')) as DemoSession;
      return value && value.sessionId === sessionId && Array.isArray(value.turns) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  write(session: DemoSession): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    session.updatedAt = new Date().toISOString();
    const temp = path.join(this.directory, `.${session.sessionId}.${process.pid}.tmp`);
    writeFileSync(temp, JSON.stringify(session), { mode: 0o600 });
    renameSync(temp, this.file(session.sessionId));
  }

  delete(sessionId: string): void {
    if (isSafeId(sessionId)) rmSync(this.file(sessionId), { force: true });
  }

  list(cwd?: string): DemoSession[] {
    let names: string[];
    try {
      names = readdirSync(this.directory);
    } catch {
      return [];
    }
    const sessions: DemoSession[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const session = this.read(name.slice(0, -'.json'.length));
      if (session && (cwd === undefined || session.cwd === cwd)) sessions.push(session);
    }
    return sessions.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  /** Removes session files not written for `maxAgeMs`. */
  prune(maxAgeMs: number): void {
    let names: string[];
    try {
      names = readdirSync(this.directory);
    } catch {
      return;
    }
    const cutoff = Date.now() - maxAgeMs;
    for (const name of names) {
      const file = path.join(this.directory, name);
      try {
        if (statSync(file).mtimeMs < cutoff) rmSync(file, { force: true });
      } catch {
        // another process pruned it first
      }
    }
  }

  private file(sessionId: string): string {
    return path.join(this.directory, `${sessionId}.json`);
  }
}

/** Session ids become file names: only the shape this agent hands out is accepted. */
function isSafeId(sessionId: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(sessionId);
}
