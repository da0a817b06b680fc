import type { Clock, TimerHandle } from '../common/clock';
import { AgentPoolError, errorMessage } from '../common/errors';
import { Emitter, type Disposable, type Event } from '../common/event';
import type { ConversationInfo } from '../conversations/conversation';
import { recordOf, type ConversationRecord } from '../conversations/conversationRecord';
import type { ConversationStore } from '../conversations/conversationStore';
import type { QueueWait } from '../conversations/turnQueue';
import { TranscriptStore } from '../conversations/transcriptStore';
import { FirstOutputWatch } from '../pool/firstOutputWait';
import type { ManagerRunOptions, PoolManager } from '../pool/manager';
import type { Lease } from '../pool/lease';
import type { AgentPool, RunResult } from '../pool/pool';
import { TranscriptRecorder } from './transcriptRecorder';

/** A conversation as the UI, the API and the CLI show it: its record, and the agent serving it here if any. */
export interface ConversationView extends ConversationInfo {
  workspace: ConversationRecord['workspace'];
  owner: ConversationRecord['owner'];
  /** True when a pool of this window holds it. */
  here: boolean;
}

export interface ContextLost {
  key: string;
  profile: string;
  /** Why the earlier context is gone, in words for the user. */
  reason: string;
}

export interface ConversationsOptions {
  store: ConversationStore;
  manager: () => PoolManager | undefined;
  workspace: ConversationRecord['workspace'];
  /** Who runs turns here, for the record's owner (window id once registered). */
  owner: () => ConversationRecord['owner'];
  clock: Clock;
  /** Conversations unused this long are closed (0: never). */
  idleCloseMs: number;
  log: (level: 'info' | 'warn', message: string) => void;
}

/**
 * This window's side of the conversations every window and the CLI share. A turn of a conversation
 * runs holding its record (one owner at a time), takes over what the record says (so another
 * window's or an earlier process's conversation resumes here), and writes the record back with its
 * session, usage and last use. Closing ends the agent's session too, and idle conversations close
 * themselves after `idleCloseMs`.
 */
export class Conversations implements Disposable {
  private readonly changed = new Emitter<void>();
  readonly onDidChange: Event<void> = this.changed.event;
  private readonly lost = new Emitter<ContextLost>();
  /** The conversation went on in a new session: its earlier context is gone. */
  readonly onDidLoseContext: Event<ContextLost> = this.lost.event;
  private idleTimer: TimerHandle | undefined;
  private subscription: Disposable | undefined;
  /** Every turn's prompt, answer and outcome, per conversation, next to its record. */
  readonly transcripts: TranscriptStore;

  constructor(private readonly options: ConversationsOptions) {
    this.transcripts = new TranscriptStore(options.store.folder);
  }

  /** Listens to the pools for lost context; called once the manager exists. */
  attach(manager: PoolManager): void {
    this.subscription?.dispose();
    this.subscription = manager.onDidEvent((event) => {
      if (event.type !== 'conversation') return;
      if (event.change === 'context-lost') this.lost.fire({ key: event.key, profile: event.profile, reason: event.reason ?? 'the agent could not resume the session' });
      if (event.change !== 'turn') this.changed.fire();
    });
    this.scheduleIdleClose();
  }

  /** One turn of conversation `options.sessionKey`, wherever it was last served. */
  run(prompt: string, options: ManagerRunOptions & { sessionKey: string }): Promise<RunResult & { profile: string }> {
    const askedAt = this.options.clock.monotonicNow();
    return this.withLease(options, async (lease) => {
      // As PoolManager.run: "waiting for claude's first output · 25 s", counted from the ask.
      const { onWaiting } = options;
      const watch = onWaiting ? new FirstOutputWatch(this.options.clock, lease.profile, onWaiting, undefined, askedAt) : undefined;
      try {
        const result = await lease.prompt(prompt, { onEvent: watch ? watch.wrap(options.onEvent) : options.onEvent, signal: options.signal });
        return { ...result, agentId: lease.agentId, profile: lease.profile };
      } finally {
        watch?.dispose();
      }
    });
  }

  /**
   * A lease on the agent serving conversation `options.sessionKey` for the caller's turns (the API's
   * acquire): as withLease, the conversation's record is held until the lease is released and its
   * last turn has ended, then written back with its session, usage and last use.
   */
  acquire(options: ManagerRunOptions & { sessionKey: string }): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      this.withLease(options, (lease) => {
        resolve(lease);
        return lease.whenReturned();
      }).catch(reject);
    });
  }

  /**
   * A lease on the agent serving conversation `options.sessionKey`, for `work`'s turns: held with
   * the conversation's record (one owner at a time), after taking over what the record says, so a
   * conversation of another window or an earlier process resumes here; the record is written back
   * with its session, usage and last use when `work` ends. With `wait`, a turn running or waiting
   * in another window or process is waited for, in order of arrival; without, it fails the call.
   */
  withLease<T>({ wait, ...options }: ManagerRunOptions & { sessionKey: string; wait?: QueueWait }, work: (lease: Lease) => Promise<T>): Promise<T> {
    const key = options.sessionKey;
    const turn = { label: this.options.owner().label, wait };
    return this.options.store.withTurn(key, async () => {
      const manager = this.requireManager();
      const record = await this.options.store.read(key);
      if (record) {
        const pool = manager.get(record.profile);
        if (!pool || (options.profiles && !options.profiles.includes(record.profile))) {
          throw new AgentPoolError(
            'CONVERSATION_PROFILE',
            `Conversation "${key}" was held by profile "${record.profile}", which ${pool ? 'this request leaves out' : 'has no pool running here'}; its session can only continue on that agent. Start a "${record.profile}" pool (or send the prompt to it), or use another conversation name.`,
          );
        }
        manager.bindProfile(key, record.profile);
        pool.adoptConversation(record);
      }
      const lease = await manager.acquire(options);
      const recorder = new TranscriptRecorder({
        store: this.transcripts,
        key,
        lease,
        now: () => this.options.clock.wallNow(),
        conversation: () => manager.get(lease.profile)?.conversation(key),
        log: this.options.log,
      });
      lease.observer = recorder;
      try {
        return await work(lease);
      } finally {
        lease.observer = undefined;
        lease.release();
        await recorder.flushed();
        await this.save(manager.get(lease.profile), key);
      }
    }, turn);
  }

  /** Bad files met in the conversations folder, by kind. */
  badFileCounts(): ReturnType<ConversationStore['badFileCounts']> {
    return this.options.store.badFileCounts();
  }

  /** Every conversation of the registry directory, most recently used first. */
  async list(): Promise<ConversationView[]> {
    const manager = this.options.manager();
    return (await this.options.store.list()).map((record) => this.view(record, manager));
  }

  async get(key: string): Promise<ConversationView | undefined> {
    const record = await this.options.store.read(key);
    return record && this.view(record, this.options.manager());
  }

  /**
   * Ends a conversation: its record and its transcript go (export it first to keep it: a new
   * conversation of the same name must not inherit the old one's turns, and nothing else would
   * ever remove it), and its agent session is closed with `session/close` where a pool here can
   * reach an agent that supports it. Waits for a turn of it to end first.
   */
  close(key: string): Promise<boolean> {
    return this.options.store.withTurn(key, async () => {
      const record = await this.options.store.read(key);
      const pool = record && this.options.manager()?.get(record.profile);
      let closed = false;
      if (pool && record) {
        pool.adoptConversation(record);
        closed = await pool.closeConversation(key);
      } else {
        for (const running of this.options.manager()?.list() ?? []) closed = (await this.options.manager()!.get(running.profile)!.closeConversation(key)) || closed;
      }
      const deleted = await this.options.store.delete(key);
      await this.transcripts.delete(key);
      this.options.manager()?.unbindProfile(key);
      if (closed || deleted) this.changed.fire();
      return closed || deleted;
    });
  }

  dispose(): void {
    if (this.idleTimer) this.options.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.subscription?.dispose();
    this.changed.dispose();
    this.lost.dispose();
  }

  /** Closes the conversations nobody used for idleCloseMs, in any window; returns their keys. */
  async closeIdle(): Promise<string[]> {
    const { idleCloseMs, clock } = this.options;
    if (idleCloseMs <= 0) return [];
    const cutoff = clock.wallNow() - idleCloseMs;
    const closed: string[] = [];
    for (const record of await this.options.store.list()) {
      if (record.lastUsedAt > cutoff) continue;
      try {
        if (await this.close(record.key)) closed.push(record.key);
        this.options.log('info', `closed conversation "${record.key}": unused for ${Math.round(idleCloseMs / 60_000)} min (agentPool.conversations.idleCloseMinutes)`);
      } catch (error) {
        // Busy in another window: it is in use after all.
        this.options.log('info', `conversation "${record.key}" not closed: ${errorMessage(error)}`);
      }
    }
    return closed;
  }

  private scheduleIdleClose(): void {
    const { idleCloseMs, clock } = this.options;
    if (idleCloseMs <= 0 || this.idleTimer) return;
    this.idleTimer = clock.setTimeout(
      () => {
        this.idleTimer = undefined;
        void this.closeIdle().finally(() => this.scheduleIdleClose());
      },
      Math.min(idleCloseMs, 60_000),
    );
    this.idleTimer.unref?.();
  }

  private async save(pool: AgentPool | undefined, key: string): Promise<void> {
    const info = pool?.conversation(key);
    if (!info) return;
    try {
      await this.options.store.write(recordOf(info, this.options.workspace, this.options.owner()));
    } catch (error) {
      this.options.log('warn', `conversation "${key}" could not be recorded in ${this.options.store.folder}: ${errorMessage(error)}; it continues in this window only`);
    }
    this.changed.fire();
  }

  private view(record: ConversationRecord, manager: PoolManager | undefined): ConversationView {
    const live = manager?.get(record.profile)?.conversation(record.key);
    // The live copy is newer while a turn runs here; otherwise the record is.
    const fresher = live && live.turns >= record.turns ? live : undefined;
    return {
      key: record.key,
      profile: record.profile,
      sessionId: fresher?.sessionId ?? record.sessionId,
      agentId: fresher?.agentId,
      turns: Math.max(record.turns, live?.turns ?? 0),
      usage: fresher?.usage ?? record.usage,
      lastUsedAt: Math.max(record.lastUsedAt, live?.lastUsedAt ?? 0),
      createdAt: record.createdAt,
      contextLost: fresher?.contextLost ?? record.contextLost,
      contextLostReason: fresher?.contextLostReason ?? record.contextLostReason,
      workspace: record.workspace,
      owner: record.owner,
      here: fresher?.agentId !== undefined,
    };
  }

  private requireManager(): PoolManager {
    const manager = this.options.manager();
    if (!manager) throw new AgentPoolError('SERVICE_NOT_STARTED', 'Agent Pool has not started yet.');
    return manager;
  }
}
