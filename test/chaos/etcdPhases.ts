import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EtcdGateway, text } from '../../src/core/backend/etcd/gateway';
import { etcdKeys, prefixRange } from '../../src/core/backend/etcd/keys';
import { AgentSampler } from '../fixtures/agentSampler';
import type { EtcdCluster } from '../fixtures/etcdServer';
import { Actor } from './actorProcess';
import { bundleEntry } from './bundle';
import { summarize, type ChaosContext } from './common';

const HOLDER = path.join(__dirname, '..', 'fixtures', 'etcdHolder.ts');

/** Separate UTS namespaces (own host names, shared loopback) when root and unshare are there; else configured names. */
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--uts', 'true']).status === 0;

interface HolderOptions {
  cap: number;
  hostname: string;
  ttlSeconds: number;
  holdMinMs: number;
  holdMaxMs: number;
  rounds: number;
  goFile?: string;
}

export class EtcdPhases {
  readonly tag = randomBytes(6).toString('hex');
  readonly prefix = `chaos-${randomBytes(4).toString('hex')}`;
  private readonly actors: Actor[] = [];

  constructor(
    private readonly context: ChaosContext,
    private readonly etcd: EtcdCluster,
  ) {}

  get hostIdentity(): string {
    return canUnshare ? 'unshare --uts' : 'configured host names';
  }

  async holder(options: HolderOptions, prefix = this.prefix): Promise<Actor> {
    const script = await bundleEntry(HOLDER, { besideDist: true });
    const config = JSON.stringify({ endpoints: this.etcd.endpoints, prefix, tls: this.etcd.tls, ...options, hostname: canUnshare ? '' : options.hostname });
    const env = { ...process.env, AP_ETCD_CHAOS_TAG: this.tag };
    const child = canUnshare
      ? spawn('unshare', ['--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', options.hostname, process.execPath, script, config], { env, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, [script, config], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const actor = Actor.wrap(child);
    this.actors.push(actor);
    return actor;
  }

  sampler(): AgentSampler {
    return new AgentSampler(`AP_ETCD_CHAOS_TAG=${this.tag}`, 'sleep', 10).start();
  }

  gateway(): EtcdGateway {
    const tls = this.etcd.tls;
    return new EtcdGateway({ endpoints: this.etcd.endpoints, ...(tls ? { tls: { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } } : {}) });
  }

  async slotCount(gateway: EtcdGateway, prefix = this.prefix): Promise<number> {
    const answer = await gateway.call<{ count?: string }>('/v3/kv/range', { ...prefixRange(etcdKeys(prefix).slots), count_only: true });
    return Number(answer.count ?? 0);
  }

  killAll(): void {
    for (const actor of this.actors) actor.kill('SIGKILL');
  }

  /** 3 hosts x 5 processes race for cap 4: the most agent processes alive at once. */
  async race(options: { hosts: number; perHost: number; cap: number; rounds: number }) {
    const goFile = path.join(this.context.base, `etcd-go-${this.tag}`);
    const sampler = this.sampler();
    const actors = await Promise.all(
      Array.from({ length: options.hosts * options.perHost }, (_, i) =>
        this.holder({ cap: options.cap, hostname: `host-${i % options.hosts}`, ttlSeconds: 3, holdMinMs: 100, holdMaxMs: 300, rounds: options.rounds, goFile }),
      ),
    );
    await Promise.all(actors.map((actor) => actor.waitFor('ready', 60_000)));
    writeFileSync(goFile, '');
    await Promise.all(actors.map((actor) => actor.exited));
    sampler.stop();
    const holds = actors.reduce((sum, actor) => sum + actor.lines.filter((line) => line.event === 'hold').length, 0);
    const refusals = actors.reduce((sum, actor) => sum + actor.lines.filter((line) => line.event === 'refused').length, 0);
    const crashes = actors.flatMap((actor) => actor.lines.filter((line) => line.event === 'crash'));
    const figures = { processes: actors.length, hosts: options.hosts, hostIdentity: this.hostIdentity, cap: options.cap, holds, refusals, maxConcurrentAgents: sampler.max, samples: sampler.samples, crashes: crashes.length };
    if (sampler.max > options.cap) this.context.violation(`etcd race: ${sampler.max} agent processes at once for a cap of ${options.cap}`);
    if (holds !== actors.length * options.rounds) this.context.violation(`etcd race: ${holds} holds of ${actors.length * options.rounds}`);
    for (const crash of crashes) this.context.violation(`etcd race: crash ${String(crash.error).split('\n')[0]}`);
    return figures;
  }

  /** SIGKILLs of holders while they hold: their slots go with their leases; none is left after one TTL. */
  async kills(options: { kills: number; holders: number; cap: number; ttlSeconds: number; batch: number }) {
    const gateway = this.gateway();
    const prefix = `${this.prefix}-kills`;
    const keys = etcdKeys(prefix);
    const sampler = this.sampler();
    const reclaimMs: number[] = [];
    const killedAt = new Map<string, number>();
    // Times from a SIGKILL to the DELETE of the victim's slot (lease expiry), from a watch.
    const watch = gateway.watch({ create_request: { ...prefixRange(keys.slots) } }, (result) => {
      for (const event of result.events ?? []) {
        if (event.type !== 'DELETE') continue;
        const started = killedAt.get(text(event.kv.key));
        if (started === undefined) continue;
        killedAt.delete(text(event.kv.key));
        reclaimMs.push(performance.now() - started);
      }
    }, () => undefined);
    const start = (i: number) => this.holder({ cap: options.cap, hostname: `host-${i % 3}`, ttlSeconds: options.ttlSeconds, holdMinMs: 150, holdMaxMs: 400, rounds: 0 }, prefix);
    let live = await Promise.all(Array.from({ length: options.holders }, (_, i) => start(i)));
    await Promise.all(live.map((actor) => actor.waitFor('ready', 60_000)));
    let kills = 0;
    let whileHolding = 0;
    const holding = (actor: Actor) => actor.lines.filter((line) => line.event === 'hold' || line.event === 'released').at(-1)?.event === 'hold';
    const deadline = performance.now() + 200_000;
    // Batches of SIGKILLs of holders holding a slot with its agent running; replacements join the race.
    while (kills < options.kills && performance.now() < deadline) {
      const victims = live.filter(holding).slice(0, Math.min(options.batch, options.kills - kills));
      if (victims.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      for (const victim of victims) {
        const slot = victim.lines.filter((line) => line.event === 'hold').at(-1)!.slot as string;
        victim.kill('SIGKILL');
        kills++;
        whileHolding++;
        killedAt.set(keys.slot(Number(slot.replace('slot-', ''))), performance.now());
      }
      live = live.filter((actor) => !victims.includes(actor));
      const fresh = await Promise.all(victims.map((_, i) => start(kills + i)));
      await Promise.all(fresh.map((actor) => actor.waitFor('ready', 60_000)));
      live.push(...fresh);
    }
    for (const actor of live) actor.kill('SIGKILL');
    await Promise.all(live.map((actor) => actor.exited));
    const endedAt = performance.now();
    // One TTL (plus the server's own tick of about half a second): every lease of a killed holder has run out.
    while (performance.now() - endedAt < options.ttlSeconds * 1000 + 1500 && (await this.slotCount(gateway, prefix)) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    const leaked = await this.slotCount(gateway, prefix);
    // Guardians kill their agents within a moment of their owner's death (SIGTERM, SIGKILL 250 ms later).
    const guardianDeadline = performance.now() + 3000;
    while (sampler.sample() > 0 && performance.now() < guardianDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const orphans = sampler.last;
    sampler.stop();
    watch.cancel();
    gateway.dispose();
    const figures = { kills, whileHolding, ttlSeconds: options.ttlSeconds, slotsLeakedAfterOneTtl: leaked, orphanAgents: orphans, maxConcurrentAgents: sampler.max, reclaimMs: summarize(reclaimMs) };
    if (leaked > 0) this.context.violation(`etcd kills: ${leaked} slots left one TTL after the last SIGKILL`);
    if (orphans > 0) this.context.violation(`etcd kills: ${orphans} agent processes outlived their SIGKILLed holders`);
    if (sampler.max > options.cap) this.context.violation(`etcd kills: ${sampler.max} agents at once for a cap of ${options.cap}`);
    return figures;
  }

  /** A holder frozen 2 x TTL: its guardian kills its agent before its slot goes to the waiter; never two agents at once. */
  async freeze(options: { ttlSeconds: number }) {
    const prefix = `${this.prefix}-freeze`;
    const sampler = this.sampler();
    const frozen = await this.holder({ cap: 1, hostname: 'frozen-host', ttlSeconds: options.ttlSeconds, holdMinMs: 600_000, holdMaxMs: 600_000, rounds: 1 }, prefix);
    const hold = await frozen.waitFor('hold', 30_000);
    const waiter = await this.holder({ cap: 1, hostname: 'waiting-host', ttlSeconds: options.ttlSeconds, holdMinMs: 500, holdMaxMs: 500, rounds: 1 }, prefix);
    await waiter.waitFor('ready', 30_000);
    const agentPid = hold.agentPid as number;
    const frozenAt = performance.now();
    frozen.kill('SIGSTOP');
    let agentDiedAt: number | undefined;
    // Killed but not yet reaped (its parent is the frozen holder) is dead too: a zombie runs nothing.
    const watchAgent = setInterval(() => {
      let state = 'gone';
      try {
        state = readFileSync(`/proc/${agentPid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? 'gone';
      } catch {
        // gone
      }
      if (state === 'gone' || state === 'Z' || state === 'X') agentDiedAt ??= performance.now();
    }, 5);
    const taken = await waiter.waitFor('hold', options.ttlSeconds * 4000 + 10_000);
    const takenAt = performance.now();
    const frozenFor = options.ttlSeconds * 2000 - (takenAt - frozenAt);
    if (frozenFor > 0) await new Promise((resolve) => setTimeout(resolve, frozenFor));
    frozen.kill('SIGCONT');
    clearInterval(watchAgent);
    await waiter.exited;
    frozen.kill('SIGKILL');
    sampler.stop();
    void taken;
    const figures = {
      ttlSeconds: options.ttlSeconds,
      frozenMs: Math.round(performance.now() - frozenAt),
      agentKilledAfterMs: agentDiedAt === undefined ? null : Math.round(agentDiedAt - frozenAt),
      slotRetakenAfterMs: Math.round(takenAt - frozenAt),
      maxConcurrentAgents: sampler.max,
    };
    if (agentDiedAt === undefined || agentDiedAt >= takenAt) this.context.violation(`etcd freeze: the frozen holder's agent was still alive when its slot was taken again (${JSON.stringify(figures)})`);
    if (sampler.max > 1) this.context.violation(`etcd freeze: ${sampler.max} agents at once for a cap of 1`);
    return figures;
  }

  /** 3 members: one paused (quorum kept) while holders loop, then two paused (quorum lost), then all back. */
  async memberFaults(options: { holders: number; cap: number; ttlSeconds: number; pauseMs: number }) {
    const prefix = `${this.prefix}-members`;
    const sampler = this.sampler();
    const actors = await Promise.all(
      Array.from({ length: options.holders }, (_, i) => this.holder({ cap: options.cap, hostname: `host-${i % 3}`, ttlSeconds: options.ttlSeconds, holdMinMs: 200, holdMaxMs: 500, rounds: 0 }, prefix)),
    );
    await Promise.all(actors.map((actor) => actor.waitFor('hold', 30_000).catch(() => undefined)));
    const holdsNow = () => actors.reduce((sum, actor) => sum + actor.lines.filter((line) => line.event === 'hold').length, 0);
    const [m0, m1, m2] = this.etcd.members;
    m0!.pause();
    const before = holdsNow();
    await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    m0!.resume();
    const holdsWithOneMemberPaused = holdsNow() - before;
    const maxWithQuorum = sampler.max;
    // Quorum lost: no new agent may start once the holders' leases can no longer be proven.
    m1!.pause();
    m2!.pause();
    const lostAt = performance.now();
    const fenceMs = options.ttlSeconds * 1000;
    await new Promise((resolve) => setTimeout(resolve, fenceMs));
    const fencedAtWall = Date.now();
    sampler.resetMax();
    await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    // Slots granted (the holder's own time of the answer) after every lease had to be given up, before quorum came back.
    const resumedAtWall = Date.now();
    const holdsDuringLoss = actors.reduce(
      (sum, actor) => sum + actor.lines.filter((line) => line.event === 'acquired' && (line.t as number) > fencedAtWall && (line.t as number) < resumedAtWall).length,
      0,
    );
    const agentsDuringLoss = sampler.max;
    m1!.resume();
    m2!.resume();
    const resumedAt = performance.now();
    const afterResume = holdsNow();
    await Promise.race(actors.map((actor) => new Promise((resolve) => actor.onLine((line) => line.event === 'hold' && resolve(undefined)))));
    const recoveryMs = Math.round(performance.now() - resumedAt);
    for (const actor of actors) actor.kill('SIGKILL');
    sampler.stop();
    const figures = {
      members: this.etcd.members.length,
      tls: this.etcd.tls !== undefined,
      holdsWithOneMemberPaused,
      maxConcurrentAgentsWithQuorum: maxWithQuorum,
      quorumLostMs: Math.round(resumedAt - lostAt),
      newAgentsWithoutQuorum: holdsDuringLoss,
      agentsRunningWithoutQuorum: agentsDuringLoss,
      recoveryMs,
      holdsAfterRecovery: holdsNow() - afterResume,
    };
    if (maxWithQuorum > options.cap) this.context.violation(`etcd members: ${maxWithQuorum} agents at once with a member paused, cap ${options.cap}`);
    if (holdsWithOneMemberPaused === 0) this.context.violation('etcd members: no slot was taken while one member of three was paused (quorum held)');
    if (holdsDuringLoss > 0) this.context.violation(`etcd members: ${holdsDuringLoss} agents started with quorum lost`);
    if (agentsDuringLoss > 0) this.context.violation(`etcd members: ${agentsDuringLoss} agents still ran one TTL after quorum was lost (fencing)`);
    return figures;
  }
}
