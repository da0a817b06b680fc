import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { AgentPoolError, errorMessage } from '../../common/errors';
import type { CoreLogger } from '../../common/logger';
import type { CoordinationBackend } from '../backend';
import { EtcdBudget } from './etcdBudget';
import { EtcdMetricsPublisher, etcdMetricsView } from './etcdMetrics';
import { EtcdRegistry } from './etcdRegistry';
import { EtcdGateway } from './gateway';
import { etcdKeys } from './keys';
import { LeaseSession } from './leaseSession';

/** The etcd backend's own bundle (dist/etcd-backend.js), loaded only when agentPool.backend is "etcd". */
export interface EtcdBackendConfig {
  /** This machine's registry directory: conversations and saved state stay there. */
  directory: string;
  endpoints: string[];
  keyPrefix: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  leaseTtlSeconds: number;
  /** Shown to other machines (default: os.hostname()). */
  hostname?: string;
  log: CoreLogger;
}

function readPem(file: string | undefined, setting: string): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new AgentPoolError('ETCD_CONFIG', `${setting} names ${file}, which cannot be read (${errorMessage(error)}). Fix the path, or clear the setting.`);
  }
}

/**
 * Connects to etcd and returns the backend. Never rejects for an unreachable etcd: the budget then
 * grants nothing and says why, and the lease is retried in the background (fail safe). Rejects only
 * for a configuration that can never work (unreadable TLS files, no endpoint).
 */
export async function openEtcdBackend(config: EtcdBackendConfig): Promise<CoordinationBackend> {
  const endpoints = config.endpoints.map((endpoint) => endpoint.trim()).filter(Boolean);
  if (endpoints.length === 0) throw new AgentPoolError('ETCD_CONFIG', 'agentPool.backend is "etcd" but agentPool.etcd.endpoints is empty: set it to e.g. "http://10.0.0.5:2379,http://10.0.0.6:2379".');
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) throw new AgentPoolError('ETCD_CONFIG', `agentPool.etcd.endpoints: "${endpoint}" is not an http:// or https:// address with a port, e.g. https://10.0.0.5:2379.`);
  }
  const tls = { ca: readPem(config.caFile, 'agentPool.etcd.caFile'), cert: readPem(config.certFile, 'agentPool.etcd.certFile'), key: readPem(config.keyFile, 'agentPool.etcd.keyFile') };
  const gateway = new EtcdGateway({ endpoints, tls, username: config.username || undefined, password: config.password, requestTimeoutMs: Math.max(500, Math.floor((config.leaseTtlSeconds * 1000) / 3)) });
  const session = new LeaseSession(gateway, { ttlSeconds: config.leaseTtlSeconds, log: config.log });
  try {
    await session.start();
  } catch (error) {
    const reason = `etcd (${endpoints.join(', ')}) did not answer: ${errorMessage(error)}`;
    config.log.error(`${reason}; no agent starts until it does`);
    session.retryInBackground(reason);
  }
  const silenceLimitMs = session.ttlMs - session.marginMs;
  const keys = etcdKeys(config.keyPrefix || 'agent-pool');
  const hostname = config.hostname || os.hostname();
  const describe = `etcd ${endpoints.join(', ')} (prefix ${keys.root})`;
  let registry: EtcdRegistry | undefined;
  return {
    kind: 'etcd',
    directory: config.directory,
    describe,
    // The guardians kill an agent whose owner fell silent for longer than the lease minus the margin.
    ownerSilenceWatch: { silenceLimitMs, pingIntervalMs: Math.max(50, Math.min(250, Math.floor(silenceLimitMs / 5))), mayPing: () => session.provableLease() !== undefined },
    createRegistry: (options) => (registry ??= new EtcdRegistry({ gateway, session, keys, log: options.log ?? config.log, describe, hostname })),
    openBudget: (options) =>
      EtcdBudget.open({ gateway, session, keys, hostname, log: options.log ?? config.log, maxAgentsTotal: options.maxAgentsTotal, maxAgentsPerWindow: options.maxAgentsPerWindow, windowId: options.windowId }),
    createMetricsView: (options) => etcdMetricsView({ gateway, keys, registry: options.registry, log: options.log }),
    createMetricsPublisher: (options) => new EtcdMetricsPublisher({ ...options, gateway, session, keys }),
    dispose: () => {
      void session.dispose().finally(() => gateway.dispose());
    },
  };
}
