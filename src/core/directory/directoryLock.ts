import * as lockfile from 'proper-lockfile';
import { errorMessage } from '../common/errors';
import type { CoreLogger } from '../common/logger';
import type { RegistryPaths } from './layout';

/**
 * Options that survive a frozen extension host (see shared/notes/reliability.md): a lock is stale
 * only after 30 s without a refresh, refreshed every 2 s, and waiters retry for about a minute.
 */
const LOCK_OPTIONS = {
  realpath: false,
  stale: 30_000,
  update: 2_000,
  retries: { retries: 60, factor: 1.3, minTimeout: 25, maxTimeout: 1_000, randomize: true },
} as const;

/**
 * Serializes registration and explicit cleanup across windows. The lock only keeps those
 * multi-file steps from interleaving: every single write is atomic on its own and the budget never
 * depends on it. So a lock that cannot be had (or is compromised by a freeze) is logged and the
 * work goes on, never a crash and never a stuck window.
 */
export async function withRegistryLock<T>(paths: RegistryPaths, log: CoreLogger, work: () => Promise<T>): Promise<T> {
  let compromised = false;
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(paths.root, {
      ...LOCK_OPTIONS,
      lockfilePath: paths.lock,
      onCompromised: (error) => {
        compromised = true;
        log.warn(`the registry lock ${paths.lock} was lost (${errorMessage(error)}); the current step finishes without it`);
      },
    });
  } catch (error) {
    log.warn(`could not take the registry lock ${paths.lock} (${errorMessage(error)}); going on without it`);
  }
  try {
    return await work();
  } finally {
    if (release) {
      await release().catch((error: unknown) => {
        if (!compromised) log.warn(`releasing the registry lock ${paths.lock}: ${errorMessage(error)}`);
      });
    }
  }
}
