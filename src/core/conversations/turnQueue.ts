import * as path from 'node:path';
import { systemClock } from '../common/clock';
import { AgentPoolError } from '../common/errors';
import type { CoreLogger } from '../common/logger';
import { DirectoryWatcher } from '../directory/directoryWatcher';
import { ensurePrivateDirectory, errorCode, nodeFileSystem, unlinkQuietly, writeTempFile, type FileSystem } from '../directory/privateFiles';
import { readJsonSafely, type Validation } from '../directory/safeJson';
import { currentProcessIdentity, isValidPid, processLiveness, type ProcessIdentity } from '../process/identity';

/**
 * How often a waiter looks again without a file event: a waiter that was SIGKILLed removes
 * nothing, so only a look at its process tells the ones behind it that it is gone. A look is one
 * readdir and a /proc read per ticket ahead.
 */
const DEAD_WAITER_POLL_MS = 250;
const TICKET_PATTERN = /^(\d{1,20})\.ticket$/;

/** What a ticket says: whose it is, provably (pid and start time), and a name for people. */
export interface TicketHolder {
  pid: number;
  startTime: string;
  label: string;
}

export interface QueueWait {
  signal?: AbortSignal;
  /** Give up after this long (CONVERSATION_WAIT_TIMEOUT); wait as long as the turns ahead take when omitted. */
  timeoutMs?: number;
  /** Once, when the first look finds turns ahead: who runs the first of them (when known), and how many are ahead. */
  onQueued?: (running: { label: string; pid: number } | undefined, ahead: number) => void | Promise<void>;
}

/** The turns ahead of a ticket whose holders are alive (dead ones' tickets are removed on the way). */
interface Ahead {
  running: TicketHolder | undefined;
  count: number;
}

/**
 * The line of turns waiting for one conversation, across windows and processes: a folder of
 * tickets, `<seq>.ticket`, each taken with link(2) (so exactly one taker wins a number, and the
 * file is whole from the moment it exists) with a number above every ticket present and above the
 * clock, so a later arrival always draws a later number. A turn goes when no ticket below its own
 * belongs to a live process (process identity: pid and start time, so a reused pid is not alive);
 * tickets of dead holders are removed by whoever finds them. Waiters wake on the folder's changes,
 * and every DEAD_WAITER_POLL_MS for the waiter killed without a trace.
 */
export class TurnQueue {
  constructor(
    readonly folder: string,
    private readonly temp: string,
    private readonly log: CoreLogger,
    private readonly fs: FileSystem = nodeFileSystem,
  ) {}

  /** Draws a ticket; the caller releases it when its turn is over (or it stops waiting). */
  async take(label: string): Promise<Ticket> {
    await ensurePrivateDirectory(this.folder, this.fs);
    const identity = await currentProcessIdentity();
    const holder: TicketHolder = { pid: identity.pid, startTime: identity.startTime, label };
    const temp = await writeTempFile(this.temp, `${JSON.stringify(holder)}\n`, this.fs);
    try {
      let seq = Math.max(Date.now() * 1000, ((await this.tickets()).at(-1)?.seq ?? 0) + 1);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.fs.link(temp, this.ticketPath(seq));
          return new Ticket(this, seq);
        } catch (error) {
          const code = errorCode(error);
          // ENOENT: the last holder removed the empty folder between our mkdir and link.
          if (code === 'ENOENT' && attempt < 10) await ensurePrivateDirectory(this.folder, this.fs);
          else if (code === 'EEXIST') seq++;
          else throw error;
        }
      }
    } finally {
      await unlinkQuietly(temp, this.fs);
    }
  }

  ticketPath(seq: number): string {
    return path.join(this.folder, `${String(seq).padStart(20, '0')}.ticket`);
  }

  /** The live tickets below `seq`, oldest first; removes those of provably dead holders. */
  async ahead(seq: number): Promise<Ahead> {
    const ahead: Ahead = { running: undefined, count: 0 };
    for (const ticket of await this.tickets()) {
      if (ticket.seq >= seq) break;
      const read = await readJsonSafely(ticket.file, validateHolder, this.fs);
      // A ticket is whole from the moment it exists (link): one that is not ours or not readable blocks nobody.
      if (read.status !== 'ok') continue;
      if ((await processLiveness(read.value as ProcessIdentity)) === 'dead') {
        if (await unlinkQuietly(ticket.file, this.fs)) this.log.info(`removed the queue ticket of ${read.value.label} (pid ${read.value.pid}), which is gone`);
        continue;
      }
      ahead.running ??= read.value;
      ahead.count++;
    }
    return ahead;
  }

  /** Waits until `until()` gives a value, looking again on every change of the folder and every poll. */
  async whenReady<T>(until: () => Promise<T | undefined>, wait: QueueWait, onTimeout: () => Error): Promise<T> {
    const deadline = wait.timeoutMs === undefined ? undefined : performance.now() + wait.timeoutMs;
    let wake: (() => void) | undefined;
    // The watcher for file events only: the polls are waitFor's own (ref'd) timer, so a waiter with nothing else to do stays alive.
    const watcher = new DirectoryWatcher(this.folder, () => wake?.(), { clock: systemClock, log: this.log, debounceMs: 5, pollIntervalMs: 5_000, useFsWatch: true });
    watcher.start();
    try {
      for (;;) {
        const changed = new Promise<void>((resolve) => (wake = resolve));
        const ready = await until();
        if (ready !== undefined) return ready;
        if (wait.signal?.aborted) throw new AgentPoolError('CONVERSATION_WAIT_CANCELLED', 'waiting for the turn of the conversation was cancelled');
        const left = deadline === undefined ? DEAD_WAITER_POLL_MS : deadline - performance.now();
        if (left <= 0) throw onTimeout();
        await waitFor(changed, Math.min(left, DEAD_WAITER_POLL_MS), wait.signal);
      }
    } finally {
      watcher.dispose();
    }
  }

  /** Gives the place up; the folder goes with the last ticket (a later taker re-creates it). */
  async release(seq: number): Promise<void> {
    await unlinkQuietly(this.ticketPath(seq), this.fs);
    await this.fs.rmdir(this.folder).catch(() => undefined);
  }

  private async tickets(): Promise<Array<{ seq: number; file: string }>> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.folder);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    }
    const tickets: Array<{ seq: number; file: string }> = [];
    for (const name of names) {
      const match = TICKET_PATTERN.exec(name);
      if (match) tickets.push({ seq: Number(match[1]), file: path.join(this.folder, name) });
    }
    return tickets.sort((a, b) => a.seq - b.seq);
  }
}

/** One place in a conversation's line. */
export class Ticket {
  constructor(
    private readonly queue: TurnQueue,
    readonly seq: number,
  ) {}

  ahead(): Promise<Ahead> {
    return this.queue.ahead(this.seq);
  }

  release(): Promise<void> {
    return this.queue.release(this.seq);
  }
}

function validateHolder(value: unknown): Validation<TicketHolder> {
  const holder = value as Partial<TicketHolder> | null;
  if (!holder || typeof holder !== 'object') return { ok: false, detail: 'not an object' };
  if (!isValidPid(holder.pid) || typeof holder.startTime !== 'string' || typeof holder.label !== 'string') return { ok: false, detail: 'pid, startTime or label' };
  return { ok: true, value: { pid: holder.pid, startTime: holder.startTime, label: holder.label } };
}

function waitFor(changed: Promise<void>, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    const onAbort = () => done();
    signal?.addEventListener('abort', onAbort, { once: true });
    void changed.then(done);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
  });
}
