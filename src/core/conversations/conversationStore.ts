import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { AgentPoolError, errorMessage } from '../common/errors';
import type { CoreLogger } from '../common/logger';
import { BadFileTracker } from '../directory/badFiles';
import { registryPaths } from '../directory/layout';
import { ensurePrivateDirectory, errorCode, nodeFileSystem, unlinkQuietly, writeFileAtomically } from '../directory/privateFiles';
import { fileSignature, readJsonSafely } from '../directory/safeJson';
import { recordFileName, validateRecord, type ConversationRecord } from './conversationRecord';

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
 * process wait in order; a turn elsewhere makes this one fail with the owner's name.
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
   * Runs `work` holding the conversation: after this process's earlier turns of it, in order, and
   * with its lock, so no other window or process runs a turn of it meanwhile. Fails with
   * CONVERSATION_BUSY, naming the owner, when another one holds it now.
   */
  withTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.chains.get(key) ?? Promise.resolve();
    const turn = before.then(
      () => this.holding(key, work),
      () => this.holding(key, work),
    );
    const settled = turn.catch(() => undefined);
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return turn;
  }

  private async holding<T>(key: string, work: () => Promise<T>): Promise<T> {
    await this.ensureFolders();
    const file = this.fileOf(key);
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockfile.lock(file, {
        ...TURN_LOCK,
        lockfilePath: `${file}.lock`,
        onCompromised: (error) => this.options.log.warn(`the lock of conversation "${key}" was lost (${errorMessage(error)}); its turn goes on`),
      });
    } catch (error) {
      if (errorCode(error) !== 'ELOCKED') throw error;
      const owner = (await this.read(key))?.owner;
      throw new AgentPoolError(
        'CONVERSATION_BUSY',
        `Conversation "${key}" is running a turn in ${owner ? `${owner.label} (pid ${owner.pid})` : 'another window or process'}; a conversation runs one turn at a time. Send this prompt again when that turn has ended.`,
      );
    }
    try {
      return await work();
    } finally {
      await release().catch(() => undefined);
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
