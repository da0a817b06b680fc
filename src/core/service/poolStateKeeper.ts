import type { Clock, TimerHandle } from '../common/clock';
import { AgentPoolError, errorMessage } from '../common/errors';
import type { PoolConfig, PoolManagerState } from '../pool/manager';
import { layerUnderSettings, type ChosenSizes, type PoolStateStore, type SavedPoolState } from './poolState';

/** How long a change waits for others before the pool state is written. */
const POOL_STATE_SAVE_DELAY_MS = 200;

export interface PoolStateKeeperDeps {
  clock: Clock;
  /** Where the state is kept; without one nothing is saved or restored. */
  store: PoolStateStore | undefined;
  warn(message: string): void;
  /** The manager's pools and bindings as they run now; undefined before the manager exists. */
  managerState(): PoolManagerState | undefined;
  defaultProfile(): string;
}

/**
 * A window's saved pool state: the sizes the user chose beyond the settings, the save shortly
 * after each change (coalesced, so a burst of turns or scale clicks is one write), and the state
 * read back at start, checked and laid under the current settings (see layerUnderSettings).
 */
export class PoolStateKeeper {
  /** Sizes chosen with Scale Pool, by profile: saved so a reload keeps them. */
  private readonly chosenSizes = new Map<string, ChosenSizes>();
  private timer: TimerHandle | undefined;
  private saving: Promise<void> = Promise.resolve();
  private lastSaved: string | undefined;
  /** Set once shutdown has saved the pools: closing them must not save an empty list over it. */
  private final = false;

  constructor(private readonly deps: PoolStateKeeperDeps) {}

  /** Scale Pool chose these sizes for `profile` under the current size settings. */
  chooseSizes(entry: ChosenSizes): void {
    this.chosenSizes.set(entry.profile, entry);
    this.scheduleSave();
  }

  /** The pool of `profile` stopped: its chosen sizes go with it. */
  forgetSizes(profile: string): void {
    this.chosenSizes.delete(profile);
    this.scheduleSave();
  }

  /** The size settings changed: they say the sizes now, and earlier Scale Pool choices give way. */
  forgetAllSizes(): void {
    this.chosenSizes.clear();
  }

  /**
   * The saved state laid under the current settings, for the manager to restore; a saved state
   * that is unusable, or names a profile that no longer exists, is said in `notes`.
   */
  async layered(settings: { defaultProfile: string; configFor(profile: string): PoolConfig; hasProfile(profile: string): boolean }, notes: string[]): Promise<SavedPoolState> {
    let saved: SavedPoolState | undefined;
    try {
      saved = parseSavedPoolState(await this.deps.store?.load());
    } catch (error) {
      notes.push(errorMessage(error));
    }
    const layered = layerUnderSettings(saved ?? { version: 1, pools: [], sticky: [], affinity: [] }, settings);
    const unknown = layered.pools.filter((pool) => !settings.hasProfile(pool.profile)).map((pool) => pool.profile);
    if (unknown.length) notes.push(`The saved pool(s) of ${unknown.map((p) => `"${p}"`).join(', ')} were not started: no such profile in agentPool.profiles any more.`);
    layered.pools = layered.pools.filter((pool) => settings.hasProfile(pool.profile));
    for (const entry of layered.chosenSizes ?? []) if (!unknown.includes(entry.profile)) this.chosenSizes.set(entry.profile, entry);
    return layered;
  }

  /** What a reload would restore: the pools, their bindings, and the user's choices beyond the settings. */
  current(): SavedPoolState | undefined {
    const state = this.deps.managerState();
    if (!state) return undefined;
    const running = new Set(state.pools.map((pool) => pool.profile));
    return { ...state, chosenSizes: [...this.chosenSizes.values()].filter((entry) => running.has(entry.profile)), defaultProfile: this.deps.defaultProfile() };
  }

  scheduleSave(): void {
    if (!this.deps.store || this.final || this.timer) return;
    // Coalesced: a burst of turns or scale clicks is one write, still within a moment of the change.
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      this.saveNow();
    }, POOL_STATE_SAVE_DELAY_MS);
    this.timer.unref?.();
  }

  /** Resolves once every save asked for so far has landed. */
  async flush(): Promise<void> {
    if (this.timer) {
      this.deps.clock.clearTimeout(this.timer);
      this.timer = undefined;
      this.saveNow();
    }
    await this.saving;
  }

  /** Shutdown saved the pools as they ran: nothing after this (closing them) is saved. */
  finish(): void {
    this.final = true;
  }

  private saveNow(): void {
    const { store } = this.deps;
    const state = this.current();
    if (!store || !state || this.final) return;
    const text = JSON.stringify(state);
    if (text === this.lastSaved) return;
    this.lastSaved = text;
    this.saving = this.saving
      .then(() => store.save(state))
      .catch((error) => {
        this.lastSaved = undefined;
        this.deps.warn(`saving the pool state failed (the next change tries again): ${errorMessage(error)}`);
      });
  }
}

/** The saved state, or undefined when there is none; throws a sentence when it is unusable. */
function parseSavedPoolState(value: unknown): SavedPoolState | undefined {
  if (value === undefined || value === null) return undefined;
  const state = value as Partial<SavedPoolState>;
  const problem =
    typeof value !== 'object' ? 'not an object'
    : state.version !== 1 ? `unknown version ${JSON.stringify(state.version)}`
    : !Array.isArray(state.pools) || state.pools.some((pool) => typeof pool?.profile !== 'string') ? '"pools" is not a list of pools with a profile'
    : state.chosenSizes !== undefined && (!Array.isArray(state.chosenSizes) || state.chosenSizes.some((c) => typeof c?.profile !== 'string' || !Number.isInteger(c.minAgents) || !Number.isInteger(c.maxAgents) || typeof c.settings !== 'object'))
      ? '"chosenSizes" is not a list of {profile, minAgents, maxAgents, settings}'
      : undefined;
  if (problem) throw new AgentPoolError('POOL_STATE_INVALID', `The saved pool state is not usable (${problem}); the pools start from the settings instead.`);
  return { sticky: [], affinity: [], ...state } as SavedPoolState;
}
