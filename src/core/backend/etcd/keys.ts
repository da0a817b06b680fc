import { b64, prefixEnd } from './gateway';

/**
 * The keys under the configured prefix (agentPool.etcd.keyPrefix), all bound to their writer's lease:
 *
 *   <prefix>/budget/slots/<k>   one per held slot, k below the store's cap; value: its holder
 *   <prefix>/windows/<id>       one per participant (window or CLI run); value: its registry record
 *   <prefix>/metrics/<id>       that participant's metrics snapshot, rewritten at most every few seconds
 */
export function etcdKeys(prefix: string) {
  const root = prefix.replace(/\/+$/, '');
  const slots = `${root}/budget/slots/`;
  const windows = `${root}/windows/`;
  const metrics = `${root}/metrics/`;
  return {
    root: `${root}/`,
    slots,
    slot: (index: number) => `${slots}${index}`,
    windows,
    window: (id: string) => `${windows}${id}`,
    metrics,
    metricsOf: (id: string) => `${metrics}${id}`,
  };
}

export type EtcdKeys = ReturnType<typeof etcdKeys>;

/** A range over every key under `prefix`, for range requests, compares and watches. */
export function prefixRange(prefix: string): { key: string; range_end: string } {
  return { key: b64(prefix), range_end: prefixEnd(prefix) };
}
