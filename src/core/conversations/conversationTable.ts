import { emptyUsage, type ConversationInfo, type ConversationUsage, type TurnUsage } from './conversation';

/** What a record from another window or process says about a conversation, to take it over from. */
export interface AdoptedConversation {
  key: string;
  sessionId: string | undefined;
  turns: number;
  usage: ConversationUsage;
  lastUsedAt: number;
  createdAt: number;
  contextLost?: number;
  contextLostReason?: string;
}

/** One conversation of a pool: its session, the agent that holds it now, its turns and usage. */
export class Conversation {
  sessionId: string | undefined;
  /** Claimed when a turn is routed to an agent, before its session opens, so a second turn waits for that agent. */
  agentId: string | undefined;
  turns = 0;
  usage: ConversationUsage = emptyUsage();
  contextLost = 0;
  contextLostReason: string | undefined;

  constructor(
    readonly key: string,
    readonly profile: string,
    public lastUsedAt: number,
    readonly createdAt: number,
  ) {}

  recordTurn(usage: TurnUsage | undefined, at: number): void {
    this.turns++;
    this.lastUsedAt = at;
    if (!usage) return;
    const total = this.usage;
    total.costUsd = Math.round((total.costUsd + Math.max(0, usage.costUsd ?? 0)) * 1e9) / 1e9;
    if (usage.sessionCostUsd !== undefined) total.sessionCostUsd = usage.sessionCostUsd;
    total.inputTokens += Math.max(0, usage.inputTokens ?? 0);
    total.outputTokens += Math.max(0, usage.outputTokens ?? 0);
    if (usage.contextUsed !== undefined) total.contextUsed = usage.contextUsed;
    if (usage.contextSize !== undefined) total.contextSize = usage.contextSize;
  }

  /** The earlier context is gone: the conversation goes on in `sessionId`, and the agent's running totals start again. */
  loseContext(sessionId: string, reason: string): void {
    this.sessionId = sessionId;
    this.contextLost++;
    this.contextLostReason = reason;
    this.usage.sessionCostUsd = undefined;
    this.usage.contextUsed = undefined;
  }

  info(): ConversationInfo {
    return {
      key: this.key,
      profile: this.profile,
      sessionId: this.sessionId,
      agentId: this.agentId,
      turns: this.turns,
      usage: { ...this.usage },
      lastUsedAt: this.lastUsedAt,
      createdAt: this.createdAt,
      contextLost: this.contextLost,
      contextLostReason: this.contextLostReason,
    };
  }
}

/**
 * The conversations of one pool, by key. Routing reads `get(key).agentId` (the agent to wait for);
 * the supervisor unbinds an agent's conversations when its process goes, keeping their session ids
 * so the next turn resumes them on another process.
 */
export class ConversationTable {
  private readonly byKey = new Map<string, Conversation>();

  constructor(
    private readonly profile: string,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Conversation | undefined {
    return this.byKey.get(key);
  }

  values(): IterableIterator<Conversation> {
    return this.byKey.values();
  }

  /** The conversation for `key`, created (with no session yet) when new. */
  open(key: string): Conversation {
    let conversation = this.byKey.get(key);
    if (!conversation) {
      const now = this.now();
      conversation = new Conversation(key, this.profile, now, now);
      this.byKey.set(key, conversation);
    }
    return conversation;
  }

  /**
   * Takes over what another window or process recorded. When the record moved on (another session,
   * more turns), the agent here holds a stale copy of it: returns that agent's id so the caller can
   * drop the session from it, and the next turn resumes the recorded session instead.
   */
  adopt(record: AdoptedConversation): string | undefined {
    const existing = this.byKey.get(record.key);
    if (existing && existing.sessionId === record.sessionId && existing.turns === record.turns) return undefined;
    const conversation = existing ?? new Conversation(record.key, this.profile, record.lastUsedAt, record.createdAt);
    const stale = existing?.agentId;
    conversation.agentId = undefined;
    conversation.sessionId = record.sessionId;
    conversation.turns = record.turns;
    conversation.usage = { ...record.usage };
    conversation.lastUsedAt = record.lastUsedAt;
    conversation.contextLost = record.contextLost ?? 0;
    conversation.contextLostReason = record.contextLostReason;
    this.byKey.set(record.key, conversation);
    return stale;
  }

  delete(key: string): Conversation | undefined {
    const conversation = this.byKey.get(key);
    this.byKey.delete(key);
    return conversation;
  }

  /** The agent's process is gone: its conversations keep their sessions and wait to be resumed elsewhere. */
  unbindAgent(agentId: string): void {
    for (const conversation of this.byKey.values()) if (conversation.agentId === agentId) conversation.agentId = undefined;
  }

  /** How many conversations an agent holds: recycling and scale-down prefer agents holding none. */
  heldBy(agentId: string): number {
    let count = 0;
    for (const conversation of this.byKey.values()) if (conversation.agentId === agentId) count++;
    return count;
  }
}
