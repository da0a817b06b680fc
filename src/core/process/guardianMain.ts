/**
 * The guardian (bundled to dist/guardian.js): `node guardian.js <agentPid> <agentStartTime>`, with
 * an IPC channel to the owner. It does not sit between the owner and the agent: the owner spawns
 * the agent itself (its pipes go straight to the owner, so dispatch pays nothing) and this watchdog
 * in parallel, so the agent's start is not delayed by the guardian's own node start-up.
 * When the channel closes it kills the agent's process group: SIGTERM, then SIGKILL.
 * It imports only node built-ins and the /proc reader so it starts as fast as node can.
 */
import { OWNER_GONE_GRACE_MS, type OwnerToGuardian } from './guardianProtocol';
import { readProcStat } from './tree';

const agentPid = Number(process.argv[2]);
const agentStartTime = process.argv[3] ?? '';
let released = false;
let acting = false;

/** Pid reuse guard: only signal the group while its leader is still the process we were given. */
function sameAgent(): boolean {
  const stat = readProcStat(agentPid);
  if (!stat) return process.platform !== 'linux';
  return agentStartTime === 'unknown' || stat.startTime === agentStartTime;
}

function signalGroup(signal: NodeJS.Signals): boolean {
  try {
    process.kill(-agentPid, signal);
    return true;
  } catch {
    return false; // ESRCH: the whole group is gone
  }
}

function onOwnerGone(): void {
  if (released || acting) return;
  acting = true;
  if (!Number.isInteger(agentPid) || agentPid <= 1 || !sameAgent()) process.exit(0);
  signalGroup('SIGTERM');
  setTimeout(() => {
    signalGroup('SIGKILL');
    process.exit(0);
  }, OWNER_GONE_GRACE_MS);
}

/** ms; 0: off. The owner's `alive` pings must arrive within this, or the agent's group is killed. */
const silenceLimitMs = Number(process.argv[4] ?? 0);
let lastAlive = performance.now();
if (silenceLimitMs > 0) {
  const check = setInterval(() => {
    const silentMs = performance.now() - lastAlive;
    if (silentMs <= silenceLimitMs || released || acting) return;
    clearInterval(check);
    acting = true;
    process.stderr.write(`agent-pool guardian: the owner of agent ${agentPid} sent nothing for ${Math.round(silentMs)} ms (limit ${silenceLimitMs} ms, etcd backend): killing its process group before its slot's lease can run out\n`);
    if (Number.isInteger(agentPid) && agentPid > 1 && sameAgent()) signalGroup('SIGKILL');
    process.exit(0);
  }, Math.max(20, Math.min(100, Math.floor(silenceLimitMs / 10))));
}

process.on('message', (message: OwnerToGuardian) => {
  if (message.type === 'alive') {
    lastAlive = performance.now();
    return;
  }
  if (message.type !== 'release') return;
  released = true;
  process.disconnect?.();
  process.exit(0);
});
process.on('disconnect', onOwnerGone);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onOwnerGone);
if (!process.connected) onOwnerGone();
