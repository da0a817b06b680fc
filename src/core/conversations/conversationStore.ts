import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { AgentPoolError, errorMessage } from '../common/errors';
import type { CoreLogger } from '../common/logger';
import { BadFileTracker } from '../directory/badFiles';
import { registryPaths } from '../directory/layout';
import { ensurePrivateDirectory, errorCode, nodeFileSystem, unlinkQuietly, writeFileAtomically } from '../directory/privateFiles';
import { fileSignature, readJsonSafely } from '../directory/safeJson';
import { recordFileName, validateRecord, type ConversationRecord } from './conversationRecord';
import { TurnQueue, type QueueWait } from './turnQueue';

/**
 * A turn's hold on a conversation across windows and processes. Stale after 30 s without a
 * refresh (every 2 s), as the registry's own lock, so a frozen or killed owner lets go.
 */
const TURN_LOCK = { realpath: false, stale: 30_000, update: 2_000, retries: 0 } as const;

export interface ConversationStoreOptions {
  /** The registry directory; records go to its `conversations/` folder. */
  directory: string;
  log: CoreLogger;
}

/**
 * The conversation records of the registry directory: one private file per conversation, written
 * whole, read with the directory's hostile-file care (symlinks, other users' files, garbage and
 * wrong-schema files are skipped and counted, each logged once). A turn holds the record's lock,
 * so one conversation never runs two turns at once, in any window or process: turns of this
 * process wait in order; behind turns elsewhere a turn waits in line, first come first served, or
 * fails at once with the name of the one running.
 */
export class ConversationStore {
  readonly folder: string;
  private readonly temp: string;
  private readonly badFiles: BadFileTracker;
  private readonly chains = new Map<string, Promise<unknown>>();
  private ready: Promise<void> | undefined;

  constructor(private readonly options: ConversationStoreOptions) {
    const paths = registryPaths(options.directory);
    this.folder = paths.conversations;
    this.temp = paths.temp;
    this.badFiles = new BadFileTracker(options.log, 'conversations');
  }

  /** Bad files seen so far, by kind. */
  badFileCounts(): ReturnType<BadFileTracker['snapshot']> {
    return this.badFiles.snapshot();
  }

  fileOf(key: string): string {
    return path.join(this.folder, recordFileName(key));
  }

  async read(key: string): Promise<ConversationRecord | undefined> {
    const file = this.fileOf(key);
    const result = await readJsonSafely(file, validateRecord, nodeFileSystem);
    if (result.status === 'ok') {
      // A record under another key's name is somebody's mistake (or a hash collision): not this conversation.
      if (result.value.key === key) return result.value;
      this.badFiles.report(file, 'wrong-schema', fileSignature(result.stats), `holds conversation "${result.value.key}"`);
      return undefined;
    }
    if (result.status === 'bad') this.badFiles.report(file, result.kind, fileSignature(result.stats), result.detail);
    return undefined;
  }

  /** Every readable record, most recently used first. */
  async list(): Promise<ConversationRecord[]> {
    let names: string[];
    try {
      names = await nodeFileSystem.readdir(this.folder);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    }
    const records: ConversationRecord[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const file = path.join(this.folder, name);
      const result = await readJsonSafely(file, validateRecord, nodeFileSystem);
      if (result.status === 'ok') records.push(result.value);
      else if (result.status === 'bad') this.badFiles.report(file, result.kind, fileSignature(result.stats), result.detail);
    }
    return records.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
  }

  async write(record: ConversationRecord): Promise<void> {
    await this.ensureFolders();
    await writeFileAtomically(this.fileOf(record.key), `${JSON.stringify(record, null, 2)}\n`, { tempDirectory: this.temp });
  }

  async delete(key: string): Promise<boolean> {
    return unlinkQuietly(this.fileOf(key));
  }

  /**
   * Runs `work` holding the conversation: after this process's earlier turns of it, in order, then
   * with a ticket in the conversation's line (./turnQueue.ts) and its lock, so no other window or
   * process runs a turn of it meanwhile. With `options.wait` it waits its turn behind the turns of
   * other windows and processes, first come first served; without, it fails at once with
   * CONVERSATION_BUSY, naming the one running a turn, when any is running or waiting.
   */
  withTurn<T>(key: string, work: () => Promise<T>, options: TurnOptions = {}): Promise<T> {
    const before = this.chains.get(key) ?? Promise.resolve();
    const turn = before.then(
      () => this.holding(key, work, options),
      () => this.holding(key, work, options),
    );
    const settled = turn.catch(() => undefined);
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return turn;
  }

  /** The folder of the conversation's waiting line: `<hash>.queue/`, beside its record. */
  queueOf(key: string): TurnQueue {
    return new TurnQueue(this.fileOf(key).replace(/\.json$/, '.queue'), this.temp, this.options.log);
  }

  private async holding<T>(key: string, work: () => Promise<T>, options: TurnOptions): Promise<T> {
    await this.ensureFolders();
    const ticket = await this.queueOf(key).take(options.label ?? `pid ${process.pid}`);
    let release: (() => Promise<void>) | undefined;
    try {
      let queued = false;
      const attempt = async (): Promise<(() => Promise<void>) | undefined> => {
        const ahead = await ticket.ahead();
        const lock = ahead.count === 0 ? await this.tryLock(key) : undefined;
        if (lock) return lock;
        const running = ahead.running ?? (await this.read(key))?.owner;
        if (!options.wait) throw busyError(key, running);
        if (!queued) {
          queued = true;
          await options.wait.onQueued?.(running, Math.max(1, ahead.count));
        }
        return undefined;
      };
      const { wait } = options;
      release = wait ? await this.queueOf(key).whenReady(attempt, wait, () => waitTimeoutError(key, wait.timeoutMs ?? 0)) : await attempt();
      return await work();
    } finally {
      // The lock first: the next in line wakes on the ticket's removal and must find the lock free.
      await release?.().catch(() => undefined);
      await ticket.release().catch(() => undefined);
    }
  }

  /** The conversation's lock, or undefined while someone holds it (one left by a dead owner goes stale after 30 s). */
  private async tryLock(key: string): Promise<(() => Promise<void>) | undefined> {
    const file = this.fileOf(key);
    try {
      return await lockfile.lock(file, {
        ...TURN_LOCK,
        lockfilePath: `${file}.lock`,
        onCompromised: (error) => this.options.log.warn(`the lock of conversation "${key}" was lost (${errorMessage(error)}); its turn goes on`),
      });
    } catch (error) {
      if (errorCode(error) === 'ELOCKED') return undefined;
      throw error;
    }
  }

  private ensureFolders(): Promise<void> {
    this.ready ??= (async () => {
      await ensurePrivateDirectory(this.options.directory);
      await ensurePrivateDirectory(this.folder);
      await ensurePrivateDirectory(this.temp);
    })();
    this.ready.catch(() => {
      this.ready = undefined;
    });
    return this.ready;
  }
}

export interface TurnOptions {
  /** Who takes the turn, as the ones waiting behind it are told (the window's or command's name). */
  label?: string;
  /** Wait in line behind the turns of other windows and processes; without it, fail at once when there are any. */
  wait?: QueueWait;
}

function busyError(key: string, running: { label: string; pid: number } | undefined): AgentPoolError {
  return new AgentPoolError(
    'CONVERSATION_BUSY',
    `Conversation "${key}" is running a turn in ${running ? `${running.label} (pid ${running.pid})` : 'another window or process'}; a conversation runs one turn at a time. Send this prompt again when that turn has ended.`,
  );
}

function waitTimeoutError(key: string, waitedMs: number): AgentPoolError {
  return new AgentPoolError('CONVERSATION_WAIT_TIMEOUT', `Conversation "${key}" was still running a turn elsewhere after ${Math.round(waitedMs / 1000)} s of waiting`, {
    advice: { vscode: 'Send the prompt again later, or continue in another conversation.', cli: 'Wait longer with --wait <duration>, or use another --session name.' },
  });
}
