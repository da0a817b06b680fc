import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { nodeFileSystem, writeFileAtomically } from '../directory/privateFiles';
import { exceedsJsonDepth, readTextSafely } from '../directory/safeJson';
import { parseMetricsState, type MetricsState } from './metricsState';

/**
 * Where a window keeps its cumulative counters so a reload does not reset them. The extension can
 * hand in `context.workspaceState` (see MementoMetricsStateStore); the CLI and tests use a file.
 */
export interface MetricsStateStore {
  load(): Promise<MetricsState | undefined>;
  save(state: MetricsState): Promise<void>;
}

/** The part of `vscode.Memento` the store needs, so the core does not import vscode. */
export interface MementoLike {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

export const METRICS_STATE_KEY = 'agentPool.metrics.state';

export class MementoMetricsStateStore implements MetricsStateStore {
  constructor(
    private readonly memento: MementoLike,
    private readonly key = METRICS_STATE_KEY,
  ) {}

  async load(): Promise<MetricsState | undefined> {
    const stored = this.memento.get<unknown>(this.key);
    return typeof stored === 'string' ? parseMetricsState(stored) : undefined;
  }

  async save(state: MetricsState): Promise<void> {
    // Stored as a string: mementos deep-copy objects on every read, a string is cheap.
    await this.memento.update(this.key, JSON.stringify(state));
  }
}

/** One JSON file per workspace, e.g. `<registry dir>/metrics-state/<workspace key>.json`. */
export class FileMetricsStateStore implements MetricsStateStore {
  constructor(private readonly path: string) {}

  async load(): Promise<MetricsState | undefined> {
    const read = await readTextSafely(this.path, nodeFileSystem);
    if (read.status !== 'ok' || exceedsJsonDepth(read.text)) return undefined;
    return parseMetricsState(read.text);
  }

  async save(state: MetricsState): Promise<void> {
    await fs.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileAtomically(this.path, JSON.stringify(state));
  }
}

/**
 * The previous instance's state to restore from, unless that instance is still running (two live
 * windows on one workspace must not both count the same prompts).
 */
export async function loadPreviousMetrics(
  store: MetricsStateStore,
  isInstanceLive: (instanceId: string) => boolean,
): Promise<MetricsState | undefined> {
  const previous = await store.load().catch(() => undefined);
  if (!previous || isInstanceLive(previous.instanceId)) return undefined;
  return previous;
}
