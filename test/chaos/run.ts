/**
 * Fault tests of the registry and the global agent budget with real processes (`npm run chaos`).
 * Ends with ONE JSON line of figures on stdout; exits 1 if an invariant broke.
 * CHAOS_SCALE=small (or --small) runs a reduced version in well under a minute.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { badFileBarrage } from './badFiles';
import { capMix } from './capMix';
import { hostileDirectory } from './hostile';
import { ACTOR_ENTRY, bundleEntry } from './bundle';
import type { ChaosContext, Scale } from './common';
import { raceForTheCap } from './race';
import { killAndFreezeStorm } from './storm';
import { deadAndFrozenWindows } from './windows';
import { EtcdPhases } from './etcdPhases';
import { startEtcd } from '../fixtures/etcdServer';

/** `npm run chaos -- --backend etcd`: the same guarantees on real etcd servers started here, same one-line JSON. */
async function etcdFigures(context: ChaosContext) {
  const single = await startEtcd();
  const small = context.scale === 'small';
  let singleFigures;
  try {
    const phases = new EtcdPhases(context, single);
    try {
      const race = await phases.race({ hosts: 3, perHost: 5, cap: 4, rounds: small ? 3 : 10 });
      const kills = await phases.kills({ kills: small ? 100 : 200, holders: 12, cap: 6, ttlSeconds: 2, batch: 6 });
      const freezes = await phases.freeze({ ttlSeconds: 2 });
      singleFigures = { race, kills, freezes };
    } finally {
      phases.killAll();
    }
  } finally {
    await single.stop();
  }
  const cluster = await startEtcd({ members: 3, tls: true });
  const phases = new EtcdPhases(context, cluster);
  try {
    const members = await phases.memberFaults({ holders: 6, cap: 3, ttlSeconds: 2, pauseMs: small ? 3000 : 6000 });
    return { ...singleFigures, members };
  } finally {
    phases.killAll();
    await cluster.stop();
  }
}

async function main(): Promise<number> {
  const scale: Scale = process.env.CHAOS_SCALE === 'small' || process.argv.includes('--small') ? 'small' : 'full';
  const backendAt = process.argv.indexOf('--backend');
  const backend = backendAt >= 0 ? process.argv[backendAt + 1] : 'local';
  const base = mkdtempSync(path.join(os.tmpdir(), 'agent-pool-chaos-'));
  const violations: string[] = [];
  const startedAt = performance.now();
  const context: ChaosContext = {
    scale,
    base,
    note: (message) => process.stderr.write(`[chaos ${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${message}\n`),
    violation: (message) => {
      violations.push(message);
      process.stderr.write(`[chaos] INVARIANT BROKEN: ${message}\n`);
    },
  };
  await bundleEntry(ACTOR_ENTRY);
  if (backend === 'etcd') {
    const etcd = await etcdFigures(context);
    const figures = {
      chaos: 'registry+budget',
      backend: 'etcd',
      scale,
      ok: violations.length === 0,
      violations,
      durationMs: Math.round(performance.now() - startedAt),
      cores: os.cpus().length,
      node: process.version,
      race: etcd.race,
      kills: etcd.kills,
      freezes: etcd.freezes,
      members: etcd.members,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    if (violations.length === 0) rmSync(base, { recursive: true, force: true });
    return violations.length === 0 ? 0 : 1;
  }
  // CHAOS_ONLY=storm (comma-separated phases) runs part of the suite, for investigating one failure.
  const only = process.env.CHAOS_ONLY?.split(',');
  const wanted = (phase: string) => !only || only.includes(phase);
  const race = wanted('race') ? await raceForTheCap(context) : undefined;
  const storm = wanted('storm') ? await killAndFreezeStorm(context) : undefined;
  const badFiles = wanted('bad-files') ? await badFileBarrage(context) : undefined;
  const windows = wanted('windows') ? await deadAndFrozenWindows(context) : undefined;
  const mixedCaps = wanted('cap-mix') ? await capMix(context) : undefined;
  // The hostile phase runs ~25 CLI commands: part of the full run (npm run chaos), not of the
  // reduced one that the unit suite runs under its 2-minute limit (CHAOS_ONLY=hostile runs it alone).
  // CHAOS_ONLY=freeze runs only the hostile phase's freezes (owners stopped longer than their agents' deadlines).
  const freezeOnly = only?.includes('freeze') && !only.includes('hostile');
  const hostile =
    freezeOnly ? await hostileDirectory(context, { only: 'freeze' }) : wanted('hostile') && (scale === 'full' || only?.includes('hostile')) ? await hostileDirectory(context) : undefined;
  if (!hostile) context.note('hostile: skipped at the reduced scale (run npm run chaos, or CHAOS_ONLY=hostile)');
  const figures = {
    chaos: 'registry+budget',
    scale,
    ok: violations.length === 0,
    violations,
    durationMs: Math.round(performance.now() - startedAt),
    cores: os.cpus().length,
    node: process.version,
    race,
    kills: storm?.kills,
    freezes: storm?.freezes,
    badFiles,
    deadWindows: windows?.deadWindows,
    frozenWindow: windows?.frozenWindow,
    // Issue 16: windows and the CLI with caps 2, 8 and 6 on one store.
    mixedCaps,
    // Issue 13: each must be 0 (failFastMs under 2000).
    hangs: hostile?.hangs,
    crashes: hostile === undefined ? undefined : hostile.crashes + (badFiles?.crashes ?? 0),
    failFastMs: hostile?.failFastMs,
    wrongKills: hostile?.wrongKills,
    hostile,
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  if (violations.length === 0) rmSync(base, { recursive: true, force: true });
  else context.note(`kept ${base} for inspection`);
  return violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`[chaos] failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(2);
  },
);
