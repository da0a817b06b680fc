/**
 * Under a backend whose slots expire on their own (etcd leases), an agent must not outlive its
 * owner's proof of the slot even when the owner is frozen (a stalled extension host keeps no timer
 * running). The owner then pings each agent's guardian every `pingIntervalMs` while `mayPing()`
 * says the slot is provable; a guardian that hears nothing for `silenceLimitMs` kills its agent's
 * group. Process-wide, set by the backend that needs it; off under the file backend.
 */
export interface OwnerSilenceWatch {
  silenceLimitMs: number;
  pingIntervalMs: number;
  mayPing: () => boolean;
}

let current: OwnerSilenceWatch | undefined;

export function setOwnerSilenceWatch(watch: OwnerSilenceWatch | undefined): void {
  current = watch;
}

export function ownerSilenceWatch(): OwnerSilenceWatch | undefined {
  return current;
}
