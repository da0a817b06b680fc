import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Settings } from '../config/settings';
import type { CoreLogger } from '../common/logger';
import { setOwnerSilenceWatch } from '../process/ownerWatch';
import type { CoordinationBackend } from './backend';
import type { EtcdBackendConfig } from './etcd/index';
import { localBackend } from './localBackend';

type EtcdModule = { openEtcdBackend(config: EtcdBackendConfig): Promise<CoordinationBackend> };

/** The environment variable the CLI reads the etcd password from (VS Code keeps it in SecretStorage). */
export const ETCD_PASSWORD_ENV = 'AGENT_POOL_ETCD_PASSWORD';
/** Overrides the host name other machines see (tests run several "machines" on one). */
export const HOST_NAME_ENV = 'AGENT_POOL_HOST_NAME';

/**
 * The backend agentPool.backend chooses. The etcd code is a bundle of its own (dist/etcd-backend.js),
 * required only here and only when chosen, so activating with the file backend never loads it.
 */
export async function openBackend(settings: Settings, options: { directory: string; password?: string; hostname?: string; log: CoreLogger }): Promise<CoordinationBackend> {
  if (settings.backend !== 'etcd') return localBackend(options.directory);
  const backend = await loadEtcdModule().openEtcdBackend({
    directory: options.directory,
    endpoints: settings.etcdEndpoints.split(','),
    keyPrefix: settings.etcdKeyPrefix,
    caFile: settings.etcdCaFile || undefined,
    certFile: settings.etcdCertFile || undefined,
    keyFile: settings.etcdKeyFile || undefined,
    username: settings.etcdUsername || undefined,
    password: options.password,
    leaseTtlSeconds: settings.etcdLeaseTtlSeconds,
    hostname: options.hostname || process.env[HOST_NAME_ENV] || undefined,
    log: options.log,
  });
  // Module state of this bundle (spawn.ts reads it), so set here rather than inside the etcd bundle.
  setOwnerSilenceWatch(backend.ownerSilenceWatch);
  const dispose = backend.dispose.bind(backend);
  return Object.assign(backend, {
    dispose: () => {
      setOwnerSilenceWatch(undefined);
      dispose();
    },
  });
}

function loadEtcdModule(): EtcdModule {
  const bundled = path.join(__dirname, 'etcd-backend.js');
  // A computed path: esbuild leaves it alone, so the etcd code stays out of extension.js and cli.js.
  const source = existsSync(bundled) ? bundled : path.join(__dirname, 'etcd', 'index');
  return require(source) as EtcdModule;
}
