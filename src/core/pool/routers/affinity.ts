/** The key of a (source, target) module pair; undefined when the request names neither. */
export function pairKey(sourceModule: string | undefined, targetModule: string | undefined): string | undefined {
  if (sourceModule === undefined && targetModule === undefined) return undefined;
  return `${sourceModule ?? ''}\u0000${targetModule ?? ''}`;
}

/** True when the agent may take work of this pair: it is dedicated to no pair, or to this one. */
export function mayServe(dedicated: ReadonlyMap<string, string> | undefined, agentId: string, key: string | undefined): boolean {
  const owner = dedicated?.get(agentId);
  return owner === undefined || owner === key;
}

/** "source → target", for messages. */
export function describePair(key: string): string {
  const [source, target] = key.split('\u0000');
  return `${source || '(any)'} → ${target || '(any)'}`;
}

/** One agent's successful turns for one module pair; `index` is its place in the ranking. */
interface PairScore {
  readonly agentId: string;
  score: number;
  index: number;
}

/**
 * Successful turns per agent for one (source, target) module pair, ranked best first, so that
 * module-affinity routing reads the leaders and stops at the first score it cannot use instead of
 * looking up every agent that ever served the pair.
 */
export class PairScores {
  private readonly byAgent = new Map<string, PairScore>();
  private readonly order: PairScore[] = [];

  /** Highest score first; equal scores in the order they reached it. */
  get ranked(): ReadonlyArray<{ readonly agentId: string; readonly score: number }> {
    return this.order;
  }

  get size(): number {
    return this.order.length;
  }

  scoreOf(agentId: string): number {
    return this.byAgent.get(agentId)?.score ?? 0;
  }

  increment(agentId: string): void {
    let entry = this.byAgent.get(agentId);
    if (!entry) {
      entry = { agentId, score: 0, index: this.order.length };
      this.byAgent.set(agentId, entry);
      this.order.push(entry);
    }
    entry.score++;
    // A score grows by one, so the entry moves up only past the entries it now beats: usually none.
    const { order } = this;
    let index = entry.index;
    for (; index > 0 && order[index - 1].score < entry.score; index--) {
      order[index] = order[index - 1];
      order[index].index = index;
    }
    order[index] = entry;
    entry.index = index;
  }

  delete(agentId: string): boolean {
    const entry = this.byAgent.get(agentId);
    if (!entry) return false;
    this.byAgent.delete(agentId);
    const { order } = this;
    for (let index = entry.index + 1; index < order.length; index++) {
      order[index - 1] = order[index];
      order[index - 1].index = index - 1;
    }
    order.pop();
    return true;
  }
}

/**
 * A pool's module-pair affinity: the scores per pair and, when the pool dedicates agents to pairs,
 * the pair each agent serves. Both describe what one process has seen, so they go with it.
 */
export class ModuleAffinity {
  /** pairKey -> scores. */
  readonly pairs = new Map<string, PairScores>();
  /** agentId -> the pair it is dedicated to; undefined when agents are not dedicated. */
  readonly dedicated: Map<string, string> | undefined;
  /**
   * agentId -> pair for agents created for a pair (seed 000's create_dedicated_instance): their
   * dedication outlives a crash restart under the same id, unlike one learned from a first turn.
   */
  readonly pinned = new Map<string, string>();

  /**
   * `dedicateAgents`: the pool keeps dedications (module-affinity routing, the only router that
   * honours them); `learn`: an agent is dedicated to the pair of its first paired turn (dedicatedPairs).
   */
  constructor(
    dedicateAgents: boolean,
    private readonly learn = dedicateAgents,
  ) {
    this.dedicated = dedicateAgents ? new Map() : undefined;
  }

  /** The agent was created for this pair and serves it only, from its first turn on. */
  pin(agentId: string, key: string): void {
    this.pinned.set(agentId, key);
    this.dedicated?.set(agentId, key);
  }

  /** The agent is gone for good (stopped, recycled under a new id). */
  unpin(agentId: string): void {
    this.pinned.delete(agentId);
    this.dedicated?.delete(agentId);
  }

  /** Live agents created for `key`. */
  pinnedTo(key: string): number {
    let count = 0;
    for (const owner of this.pinned.values()) if (owner === key) count++;
    return count;
  }

  recordSuccess(agentId: string, sourceModule: string | undefined, targetModule: string | undefined): void {
    const key = pairKey(sourceModule, targetModule);
    if (key === undefined) return;
    let scores = this.pairs.get(key);
    if (!scores) this.pairs.set(key, (scores = new PairScores()));
    scores.increment(agentId);
  }

  /** With dedicated agents: the agent now serves this pair only. */
  dedicate(agentId: string, sourceModule: string | undefined, targetModule: string | undefined): void {
    const key = pairKey(sourceModule, targetModule);
    if (this.dedicated && this.learn && key !== undefined) this.dedicated.set(agentId, key);
  }

  /** The agent's process is gone (crash, restart, recycle, stop): what it had learned goes too. */
  forgetAgent(agentId: string): void {
    for (const [key, scores] of this.pairs) {
      if (scores.delete(agentId) && scores.size === 0) this.pairs.delete(key);
    }
    const pinned = this.pinned.get(agentId);
    if (pinned === undefined) this.dedicated?.delete(agentId);
    else this.dedicated?.set(agentId, pinned);
  }
}
