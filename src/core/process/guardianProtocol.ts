/**
 * The guardian is a watchdog started next to each agent (dist/guardian.js <agentPid> <startTime>).
 * Its IPC channel from the owner is the owner's lifeline: when it closes (the owner exited or was
 * SIGKILLed, which runs no exit handler) the guardian kills the agent's whole process group.
 * The owner sends `release` once the agent has exited normally, and the guardian leaves quietly.
 * With a silence limit (argv[4], ms; etcd backend only, see ownerWatch.ts) the owner also sends
 * `alive` while its slot is provable, and the guardian kills the group when none came for that long.
 */
export type OwnerToGuardian = { type: 'release' } | { type: 'alive' };

/** How long the guardian waits after SIGTERM before SIGKILL once the owner is gone. */
export const OWNER_GONE_GRACE_MS = 250;
