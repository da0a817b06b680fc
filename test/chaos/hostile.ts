import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { identityOf, processLiveness, type ProcessIdentity } from '../../src/core/process/identity';
import { phaseDirectory, sleep, type ChaosContext } from './common';
import { freezeCases } from './freezes';

/**
 * The shared directory under hostile conditions (issue 13), through the built CLI only, as an
 * ordinary user (as root, commands run as `nobody` via setpriv, so mode-000 files really are
 * unreadable): non-regular files under every name the directory uses, malformed values of every
 * field, deep nesting, huge files, leftover locks of each kind, unusable directories (read-only
 * and full ones in a mount namespace on small tmpfs mounts, root only), a freeze during the
 * handshake and a forged lease naming a live process.
 *
 * Figures: hangs (a command over 10 s), crashes (a stack trace, "unexpected error", or an exit
 * code outside the documented table), failFastMs (worst time to the right error on an unusable
 * directory, goal < 2000) and wrongKills (live processes killed on a forged lease's word).
 */
const CLI = path.resolve(__dirname, '../../dist/cli.js');
const DOCUMENTED_EXIT_CODES = new Set([0, 1, 2, 3, 130, 143]);
const COMMAND_LIMIT_MS = 10_000;
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

interface CliRun {
  args: string[];
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  hung: boolean;
}

const id = (n: number) => `20260101_000000_${800000 + n}_${n.toString(16).padStart(8, '0')}`;

export async function hostileDirectory(context: ChaosContext, parts: { only?: 'freeze' } = {}) {
  const figures = { commands: 0, hangs: 0, crashes: 0, wrongKills: 0, failFastMs: 0, failFastRawMs: 0, startupMs: [] as number[], worstCommandMs: 0, lockMs: {} as Record<string, number>, unusable: {} as Record<string, number | string>, freeze: {} as Record<string, unknown>, problems: [] as string[] };
  const problem = (message: string) => {
    figures.problems.push(message);
    context.violation(`hostile: ${message}`);
  };
  const judge = (run: CliRun, expectCodes?: number[]) => {
    figures.commands++;
    figures.worstCommandMs = Math.max(figures.worstCommandMs, Math.round(run.ms));
    const label = `agent-pool ${run.args.join(' ')}`;
    if (run.hung || run.ms > COMMAND_LIMIT_MS) {
      figures.hangs++;
      problem(`${label} took ${Math.round(run.ms)} ms`);
    }
    const stackTrace = /^\s+at .+[(\s].*:\d+:\d+\)?$/m.test(run.stderr) || /unexpected error/i.test(run.stderr);
    if (stackTrace || run.code === null || !DOCUMENTED_EXIT_CODES.has(run.code)) {
      figures.crashes++;
      problem(`${label} exited ${run.code} with: ${run.stderr.slice(0, 300)}`);
    } else if (run.code !== 0 && run.stderr.trim().length === 0) {
      figures.crashes++;
      problem(`${label} exited ${run.code} without a message`);
    }
    if (expectCodes && !expectCodes.includes(run.code ?? -1)) problem(`${label} exited ${run.code}, expected ${expectCodes.join(' or ')}: ${run.stderr.slice(0, 300)}`);
  };

  const { root, dir } = phaseDirectory(context, 'hostile');
  if (isRoot) chmodSync(context.base, 0o755);
  if (parts.only !== 'freeze') await hostileFilesLocksAndDirectories();

  // 4. Freezes of the owner longer than the deadline judging its agent: each deadline counts only unfrozen time.
  figures.freeze = await freezeCases({ root, dist: path.dirname(CLI), runCli, judge, problem, note: context.note, prepareDirectory, chownTree });

  /** Steps 1-3 (CHAOS_ONLY=freeze skips them): hostile files, leftover locks, unusable directories. */
  async function hostileFilesLocksAndDirectories() {
    // 1. One directory holding every kind of hostile file at once, plus a live window and leases.
    const hostileFiles = await seedHostileDirectory(dir, root);
    for (const args of [['status'], ['status', '--json'], ['instances'], ['instances', '--json'], ['metrics'], ['metrics', '--json'], ['metrics', '--prometheus'], ['cleanup']]) {
      judge(await runCli([...args, '--dir', dir]));
    }
    const listed = await runCli(['instances', '--json', '--dir', dir]);
    judge(listed, [0]);
    try {
      const rows = JSON.parse(listed.stdout) as Array<{ id: string }>;
      const ids = rows.map((row) => row.id);
      if (ids.filter((one) => one === hostileFiles.liveId).length !== 1) problem(`the live window is listed ${ids.filter((one) => one === hostileFiles.liveId).length} times (a symlink to its record must not list it twice): ${ids.join(', ')}`);
      const bad = ids.filter((one) => one !== hostileFiles.liveId);
      if (bad.length > 0) problem(`malformed records were listed as windows: ${bad.join(', ')}`);
    } catch (error) {
      problem(`instances --json printed no JSON: ${String(error)}`);
    }
    // 7 dead leases and one unreadable one must not deny the budget: run gets a slot and answers.
    const run = await runCli(['run', '--profile', 'demo', 'hello from a hostile directory', '--dir', dir]);
    judge(run, [0]);
    for (const victim of hostileFiles.forgedVictims) {
      if ((await processLiveness(victim)) !== 'alive') {
        figures.wrongKills++;
        problem(`process ${victim.pid}, named only by a forged lease, was killed`);
      }
    }
    const cleanup = await runCli(['cleanup', '--dir', dir]);
    judge(cleanup, [0]);
    if (!/Did not stop process/.test(cleanup.stdout + cleanup.stderr) && hostileFiles.forgedVictims.length > 0) problem(`cleanup did not report the unproven agent: ${cleanup.stdout}`);
    for (const victim of hostileFiles.forgedVictims) if ((await processLiveness(victim)) !== 'alive') figures.wrongKills++;
    hostileFiles.stop();

    // 2. Leftover locks of each kind: each costs seconds at most, and run still answers.
    for (const kind of ['directory-dead-owner', 'directory-no-owner', 'directory-unreadable', 'regular-file', 'fifo', 'symlink'] as const) {
      const lockDir = path.join(root, `lock-${kind}`);
      prepareDirectory(lockDir);
      await leaveLock(lockDir, kind);
      chownTree(lockDir);
      const startup = await startupMs();
      const result = await runCli(['cleanup', '--dir', lockDir]);
      judge(result, [0]);
      // What the lock costs: the command's time less a node start-up of the CLI measured just before.
      const cost = Math.max(0, result.ms - startup);
      figures.lockMs[kind] = Math.round(cost);
      const limit = kind === 'directory-no-owner' || kind === 'directory-unreadable' ? 2_500 + 2_000 : 2_000;
      if (cost > limit) problem(`a leftover lock (${kind}) cost cleanup ${Math.round(cost)} ms beyond start-up (limit ${limit})`);
      if ((result.stderr.match(/could not take the registry lock/g) ?? []).length > 1) problem(`the lock warning (${kind}) was printed more than once`);
    }

    // 3. Unusable directories: run fails fast, exit 1, naming the directory and the cause.
    const unusable: Array<{ kind: string; dir: string; cause: RegExp; setup?: () => void; namespace?: string }> = [];
    const fileInPlace = path.join(root, 'a-file');
    writeFileSync(fileInPlace, 'not a directory');
    unusable.push({ kind: 'not a directory', dir: fileInPlace, cause: /not a directory|a file stands where a directory should be/ });
    // A fresh directory of ours that we may not write (mode 500): nothing can be created in it.
    const noWrite = path.join(root, 'permission');
    mkdirSync(noWrite);
    chownTree(noWrite);
    chmodSync(noWrite, 0o500);
    unusable.push({ kind: 'permission', dir: noWrite, cause: /not writable|permission|EACCES/i });
    for (const entry of unusable) {
      const startup = await startupMs();
      const result = await runCli(['run', '--profile', 'demo', 'hello', '--dir', entry.dir]);
      judge(result, [1]);
      recordFailFast(entry.kind, entry.dir, entry.cause, result, startup);
    }
    if (isRoot && hasUnshare()) {
      for (const kind of ['read-only', 'full'] as const) {
        const mount = path.join(root, `mount-${kind}`);
        mkdirSync(mount, { recursive: true });
        const startup = await startupMs();
        const result = await runInMountNamespace(kind, mount);
        judge(result, [1]);
        recordFailFast(kind, path.join(mount, 'registry'), kind === 'read-only' ? /read-only/ : /full/, result, startup);
      }
    } else {
      const why = isRoot ? 'unshare is not installed' : 'they need root (a mount namespace with small tmpfs mounts)';
      figures.unusable['read-only'] = `skipped: ${why}`;
      figures.unusable.full = `skipped: ${why}`;
      context.note(`hostile: read-only and full-disk cases skipped: ${why}`);
    }
  }

  /** A node start-up of the CLI right now (`--version`): the machine is shared, so it is measured, not assumed. */
  async function startupMs(): Promise<number> {
    const version = await runCli(['--version']);
    figures.startupMs.push(Math.round(version.ms));
    return version.ms;
  }

  function recordFailFast(kind: string, directory: string, cause: RegExp, result: CliRun, startup: number) {
    const net = Math.max(0, result.ms - startup);
    figures.unusable[kind] = Math.round(net);
    figures.failFastMs = Math.max(figures.failFastMs, Math.round(net));
    figures.failFastRawMs = Math.max(figures.failFastRawMs, Math.round(result.ms));
    if (net >= 2_000) problem(`run on an unusable directory (${kind}) took ${Math.round(net)} ms beyond start-up to fail (${Math.round(result.ms)} ms in all)`);
    if (!result.stderr.includes(directory) || !cause.test(result.stderr)) problem(`run on an unusable directory (${kind}) did not name ${directory} and the cause: ${result.stderr.slice(0, 400)}`);
    if (/exhausted|became free within/.test(result.stderr)) problem(`run on an unusable directory (${kind}) blamed the budget: ${result.stderr.slice(0, 400)}`);
  }

  const { problems: _problems, startupMs: startups, ...rest } = figures;
  const sorted = [...startups].sort((a, b) => a - b);
  return { ...rest, startupMs: { n: sorted.length, min: sorted[0], max: sorted[sorted.length - 1] }, problems: figures.problems.length };
}

/** Runs the built CLI (as `nobody` when we are root), killing it after 15 s (or killAfterMs). Never throws. */
function runCli(args: string[], options: { onStart?: (child: ChildProcess) => void; env?: NodeJS.ProcessEnv; killAfterMs?: number } = {}): Promise<CliRun> {
  const [command, argv] = asOrdinaryUser(process.execPath, [CLI, ...args]);
  return runProcess(command, argv, args, options);
}

function runProcess(command: string, argv: string[], args: string[], options: { onStart?: (child: ChildProcess) => void; env?: NodeJS.ProcessEnv; killAfterMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env, HOME: '/tmp' } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let hung = false;
    const killer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, options.killAfterMs ?? 15_000);
    options.onStart?.(child);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ args, code, ms: performance.now() - started, stdout, stderr, hung });
    });
  });
}

function asOrdinaryUser(command: string, argv: string[]): [string, string[]] {
  if (!isRoot) return [command, argv];
  return ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', command, ...argv]];
}

function chownTree(target: string): void {
  if (!isRoot) return;
  const visit = (file: string) => {
    try {
      const stats = statSync(file, { throwIfNoEntry: false });
      chownSync(file, NOBODY, NOBODY);
      if (stats?.isDirectory()) for (const name of readdirSync(file)) visit(path.join(file, name));
    } catch {
      // dangling links and the like: lchown below
    }
    try {
      spawnSync('chown', ['-h', `${NOBODY}:${NOBODY}`, file]);
    } catch {
      // best effort
    }
  };
  visit(target);
}

function prepareDirectory(dir: string): void {
  for (const sub of ['instances', 'slots', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function mkfifo(file: string): void {
  const result = spawnSync('mkfifo', [file]);
  if (result.status !== 0) throw new Error(`mkfifo ${file} failed: ${result.stderr}`);
}

async function spawnAsUser(args: string[]): Promise<{ child: ChildProcess; identity: ProcessIdentity }> {
  const [command, argv] = asOrdinaryUser(args[0]!, args.slice(1));
  const child = spawn(command, argv, { stdio: 'ignore', detached: true });
  child.unref();
  // setpriv execs the program: the pid stays, the start time is the one of the real process.
  await sleep(100);
  return { child, identity: (await identityOf(child.pid!))! };
}

async function deadIdentity(): Promise<ProcessIdentity> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const identity = (await identityOf(child.pid!))!;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return identity;
}

/** Every hostile file the issue lists, in every folder, plus one live window to list and a forged lease. */
async function seedHostileDirectory(dir: string, root: string) {
  prepareDirectory(dir);
  const instances = path.join(dir, 'instances');
  const slots = path.join(dir, 'slots');
  const tmp = path.join(dir, 'tmp');
  let n = 0;
  // A live "window": a process of the reader's user with a whole, valid record.
  const live = await spawnAsUser(['sleep', '600']);
  const liveId = id(++n).replace(/_\d+_/, `_${live.identity.pid}_`);
  const record = (recordId: string, overrides: Record<string, unknown> = {}) => ({
    schema: 1, id: recordId, pid: live.identity.pid, processStartTime: live.identity.startTime, hostname: hostname(),
    workspaceName: 'live', workspaceFolders: [], extensionVersion: '0.0.0-chaos', startedAt: Date.now(), lifecycle: 'ACTIVE',
    heartbeatSeq: 1, heartbeatAt: Date.now(), ...overrides,
  });
  writeFileSync(path.join(instances, `${liveId}.json`), JSON.stringify(record(liveId)));
  symlinkSync(path.join(instances, `${liveId}.json`), path.join(instances, `${id(++n)}.json`));

  // Non-regular files under every name the directory uses.
  for (const name of [`${id(++n)}.json`, `${id(++n)}.metrics.json`, `${liveId}.metrics.json`]) mkfifo(path.join(instances, name));
  mkdirSync(path.join(instances, `${id(++n)}.metrics.json`));
  symlinkSync('/dev/zero', path.join(instances, `${id(++n)}.metrics.json`));
  symlinkSync('/dev/zero', path.join(instances, `${id(++n)}.json`));
  const socket = createServer().listen(path.join(instances, `${id(++n)}.json`));
  mkfifo(path.join(slots, 'slot-6'));
  mkfifo(path.join(slots, 'tomb-5-abc-0'));
  mkfifo(path.join(tmp, `${process.pid}-abcdef.tmp`));
  mkfifo(path.join(dir, 'registry.lock'));

  // Malformed values of every record field, deep nesting, a huge file.
  const malformed: Array<Record<string, unknown>> = [
    { startedAt: undefined }, { startedAt: 1e300 }, { startedAt: -5 }, { startedAt: 'noon' },
    { lifecycle: 7 }, { lifecycle: null }, { lifecycle: 'DANCING' },
    { pid: 0 }, { pid: -1 }, { pid: 1.5 }, { pid: 2 ** 40 }, { pid: '12' },
    { heartbeatSeq: -1 }, { heartbeatSeq: 0.5 }, { heartbeatAt: 1e300 }, { heartbeatAt: null },
    { processStartTime: 5 }, { processStartTime: '' }, { hostname: 7 }, { workspaceName: { a: 1 } },
    { workspaceFolders: 'x' }, { workspaceFolders: [1] }, { extensionVersion: null }, { schema: 2 }, { address: 5 },
  ];
  for (const overrides of malformed) {
    const recordId = id(++n);
    writeFileSync(path.join(instances, `${recordId}.json`), JSON.stringify(record(recordId, overrides)).replace('"pid":1099511627776', '"pid":1e400'));
  }
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  writeFileSync(path.join(instances, `${id(++n)}.json`), deep);
  writeFileSync(path.join(instances, `${liveId.slice(0, -8)}deadbee0.metrics.json`), `{"schema":2,"kind":"agent-pool-metrics","pools":${deep}}`);
  writeFileSync(path.join(instances, `${id(++n)}.json`), `{"pad":"${'x'.repeat(50 * 1024 * 1024)}"}`);
  // Snapshots with bad counters and histograms, for windows that have no record.
  const snapshot = (overrides: Record<string, unknown>) => JSON.stringify({ schema: 2, kind: 'agent-pool-metrics', instanceId: 'x', seq: 1, writtenAt: Date.now(), pools: [], agents: [], pairs: [], sessions: [], ...overrides });
  for (const overrides of [{ seq: -1 }, { writtenAt: 1e300 }, { pools: [{ profile: 'demo', agents: { total: -1 } }] }, { agents: [{ id: 'a', pid: 0 }] }]) {
    writeFileSync(path.join(instances, `${id(++n)}.metrics.json`), snapshot(overrides));
  }
  // Unreadable files in each subfolder (mode 000; only unreadable to a non-root reader).
  for (const file of [path.join(instances, `${id(++n)}.json`), path.join(instances, `${id(++n)}.metrics.json`), path.join(slots, 'slot-7'), path.join(tmp, '1-aaaa.tmp')]) {
    writeFileSync(file, '{}');
    chmodSync(file, 0o000);
  }
  // 7 dead leases and a forged one naming a live process of the same user (no spawn token).
  const dead = await deadIdentity();
  const lease = (index: number, overrides: Record<string, unknown> = {}) => ({
    schema: 1, nonce: `${index}`.padStart(16, 'a'), ownerPid: dead.pid, ownerStartTime: dead.startTime, hostname: hostname(),
    windowId: 'gone-window', label: 'demo', acquiredAt: Date.now(), ...overrides,
  });
  for (let index = 0; index < 5; index++) writeFileSync(path.join(slots, `slot-${index}`), JSON.stringify(lease(index)));
  const victim = await spawnAsUser(['sleep', '600']);
  writeFileSync(path.join(slots, 'slot-5'), JSON.stringify(lease(5, { childPid: victim.identity.pid, childStartTime: victim.identity.startTime })));
  // Malformed leases beyond the cap's names are counted too (slot-8.. are read when present).
  for (const [index, overrides] of [[8, { ownerPid: 0 }], [9, { acquiredAt: 1e300 }], [10, { childPid: -3 }]] as const) {
    writeFileSync(path.join(slots, `slot-${index}`), JSON.stringify(lease(index, overrides)));
  }
  chownTree(root);
  return {
    liveId,
    forgedVictims: [victim.identity],
    stop: () => {
      socket.close();
      for (const pid of [live.identity.pid, victim.identity.pid]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    },
  };
}

async function leaveLock(dir: string, kind: 'directory-dead-owner' | 'directory-no-owner' | 'directory-unreadable' | 'regular-file' | 'fifo' | 'symlink'): Promise<void> {
  const lock = path.join(dir, 'registry.lock');
  if (kind === 'regular-file') writeFileSync(lock, '');
  else if (kind === 'fifo') mkfifo(lock);
  else if (kind === 'symlink') symlinkSync('/nonexistent', lock);
  else {
    mkdirSync(lock);
    if (kind === 'directory-dead-owner') {
      const owner = await deadIdentity();
      writeFileSync(path.join(lock, 'owner.json'), JSON.stringify({ ...owner, hostname: hostname() }));
    }
    if (kind === 'directory-unreadable') {
      writeFileSync(path.join(lock, 'owner.json'), '{}');
      chmodSync(lock, 0o000);
    }
  }
}

function hasUnshare(): boolean {
  return spawnSync('unshare', ['--help']).status === 0;
}

/** Read-only or full: a small tmpfs in a private mount namespace, the CLI run inside it as root. */
function runInMountNamespace(kind: 'read-only' | 'full', mount: string): Promise<CliRun> {
  const registry = path.join(mount, 'registry');
  const script =
    kind === 'read-only'
      ? `mount -t tmpfs -o size=1m tmpfs '${mount}' && mkdir -m 700 '${registry}' '${registry}/instances' '${registry}/slots' '${registry}/tmp' && mount -o remount,ro '${mount}' && exec "$@"`
      : `mount -t tmpfs -o size=64k tmpfs '${mount}' && mkdir -m 700 '${registry}' '${registry}/instances' '${registry}/slots' '${registry}/tmp' && (dd if=/dev/zero of='${mount}/fill' bs=4k 2>/dev/null; true) && exec "$@"`;
  const args = ['run', '--profile', 'demo', 'hello', '--dir', registry];
  return runProcess('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, CLI, ...args], args);
}
