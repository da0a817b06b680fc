import type { MementoLike } from '../metrics/persistence';
import type { PoolConfig, PoolManagerState } from '../pool/manager';

/**
 * What a window keeps of its pools across a reload or a crashed host: the manager's state (pools,
 * conversation and module-pair bindings), plus what the user chose beyond the settings, with the
 * settings it was chosen under, so that a setting changed since wins.
 */
export interface SavedPoolState extends PoolManagerState {
  /** Sizes chosen with Scale Pool, per profile, and the size settings they overrode. */
  chosenSizes?: ChosenSizes[];
  /** agentPool.defaultProfile when saved: its pool was started by the setting, not by the user. */
  defaultProfile?: string;
}

export interface ChosenSizes {
  profile: string;
  minAgents: number;
  maxAgents: number;
  /** agentPool.pool.minAgents / maxAgents when the sizes were chosen. */
  settings: { minAgents: number; maxAgents: number };
}

export interface PoolStateStore {
  load(): Promise<unknown>;
  save(state: SavedPoolState): Promise<void>;
}

/** The key of earlier versions, so a reload after the update restores the pools saved before it. */
export const POOL_STATE_KEY = 'agentPool.poolState';

export class MementoPoolStateStore implements PoolStateStore {
  constructor(
    private readonly memento: MementoLike,
    private readonly key = POOL_STATE_KEY,
  ) {}

  async load(): Promise<unknown> {
    return this.memento.get<unknown>(this.key);
  }

  async save(state: SavedPoolState): Promise<void> {
    await this.memento.update(this.key, state);
  }
}

export interface CurrentPoolSettings {
  defaultProfile: string;
  /** The pool configuration the settings give a profile. */
  configFor(profile: string): PoolConfig;
}

/**
 * Lays saved state under the current settings: the settings win for everything they say (profile
 * choice, strategy, timeouts, limits, sizes); the saved state adds only what no setting says: pools
 * the user started for other profiles, sizes chosen with Scale Pool (unless the size settings
 * changed since), and the bindings. The default profile's pool always starts.
 */
export function layerUnderSettings(saved: SavedPoolState, settings: CurrentPoolSettings): SavedPoolState {
  const chosen = new Map((saved.chosenSizes ?? []).map((entry) => [entry.profile, entry]));
  const pools: PoolConfig[] = [];
  const add = (profile: string) => {
    if (pools.some((pool) => pool.profile === profile)) return;
    const config = settings.configFor(profile);
    const sizes = chosen.get(profile);
    if (sizes && sizes.settings.minAgents === config.minAgents && sizes.settings.maxAgents === config.maxAgents) {
      config.minAgents = sizes.minAgents;
      config.maxAgents = sizes.maxAgents;
    }
    pools.push(config);
  };
  if (settings.defaultProfile) add(settings.defaultProfile);
  // A pool that was only there as the default of its day goes with that default.
  for (const pool of saved.pools) if (pool.profile !== saved.defaultProfile) add(pool.profile);
  return { ...saved, pools, chosenSizes: [...chosen.values()].filter((entry) => pools.some((pool) => pool.profile === entry.profile)) };
}
