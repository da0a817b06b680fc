/**
 * `npm run test:agents`: the real ACP agents, installed from npm into a cache, driven through the
 * built CLI with no credentials, a fresh HOME and a fresh registry directory per run. Not part of
 * `npm test`: the agents change under us (new releases, new sign-in methods), so this is a
 * compatibility check to run on purpose. It prints a table and, with --readme, writes it into the
 * README between the agents-compat markers.
 *
 * Environment: AGENT_POOL_AGENTS_CACHE (default ~/.cache/agent-pool-agents) holds the installs;
 * AGENT_POOL_AGENTS=claude,codex runs only some.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const CACHE = process.env.AGENT_POOL_AGENTS_CACHE ?? join(homedir(), '.cache', 'agent-pool-agents');

interface AgentUnderTest {
  name: string;
  /** Exact npm package and version: newer releases need Node >= 22 or moved scope (see agent-protocols.md). */
  package: string;
  version: string;
  bin: string;
  args: string[];
  /** A key variable that lets the agent past sign-in into a turn (which then waits on the network). */
  keyVariable: string;
  /** What the no-credential message must offer. */
  signInAdvice: RegExp;
  /** codex-acp takes a key only through ACP authenticate. */
  expectAuthenticate?: string;
}

const AGENTS: AgentUnderTest[] = [
  {
    name: 'claude',
    package: '@zed-industries/claude-agent-acp',
    version: '0.23.1',
    bin: 'claude-agent-acp',
    args: [],
    keyVariable: 'ANTHROPIC_API_KEY',
    signInAdvice: /"Log in with Claude" \(claude-login\): run `\S*claude-agent-acp --cli`/,
  },
  {
    name: 'gemini',
    package: '@google/gemini-cli',
    version: '0.61.0',
    bin: 'gemini',
    args: ['--acp'],
    keyVariable: 'GEMINI_API_KEY',
    signInAdvice: /\(gemini-api-key\): add "authMethod": "gemini-api-key"/,
  },
  {
    name: 'codex',
    package: '@zed-industries/codex-acp',
    version: '0.16.0',
    bin: 'codex-acp',
    args: [],
    keyVariable: 'OPENAI_API_KEY',
    signInAdvice: /\(openai-api-key\): set OPENAI_API_KEY in the environment of this command/,
    expectAuthenticate: 'openai-api-key',
  },
];

/** Variables that would let an agent find credentials or change its behaviour behind our back. */
const SCRUBBED = /^(ANTHROPIC_|CLAUDE_|OPENAI_|CODEX_|GEMINI_|GOOGLE_|VERTEX|IS_SANDBOX$)/;

interface Row {
  agent: string;
  handshakeMs: number | undefined;
  says: string;
  noCredentials: string;
  authenticate: string;
  spawns: number;
  cleanNormal: boolean;
  cleanSigkill: boolean;
  cleanDoubleCtrlC: boolean;
  failures: string[];
}

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  ms: number;
  /** From the CLI's spawn to the agent's `ready` line: CLI start, budget slot, agent spawn and `initialize`. */
  readyMs: number | undefined;
}

function install(agents: AgentUnderTest[]): void {
  const missing = agents.filter((agent) => {
    const manifest = join(CACHE, 'node_modules', ...agent.package.split('/'), 'package.json');
    return !existsSync(manifest) || (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version !== agent.version;
  });
  if (missing.length === 0) return;
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(CACHE, 'package.json'))) writeFileSync(join(CACHE, 'package.json'), '{ "private": true }\n');
  const specs = missing.map((agent) => `${agent.package}@${agent.version}`);
  console.log(`installing ${specs.join(' ')} into ${CACHE} …`);
  execFileSync('npm', ['install', '--prefix', CACHE, '--no-audit', '--no-fund', '--save-exact', ...specs], { stdio: 'inherit' });
}

function freshEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!SCRUBBED.test(key)) env[key] = value;
  env.HOME = mkdtempSync(join(tmpdir(), 'ap-agents-home-'));
  return { ...env, ...extra };
}

function profilesFile(dir: string, agent: AgentUnderTest): string {
  const file = join(dir, 'profiles.json');
  writeFileSync(file, JSON.stringify({ [agent.name]: { adapter: 'acp', command: join(CACHE, 'node_modules', '.bin', agent.bin), args: agent.args, handshakeTimeoutMs: 60_000 } }));
  return file;
}

/** Runs the built CLI; `during` may signal it once the agent's turn is under way. */
function runCli(args: string[], env: NodeJS.ProcessEnv, during?: (child: ReturnType<typeof spawn>, stderr: () => string) => Promise<void>): Promise<CliRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let readyMs: number | undefined;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (readyMs === undefined && /ready: pid/.test(stderr)) readyMs = performance.now() - started;
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stderr, stdout, ms: performance.now() - started, readyMs });
    });
    void during?.(child, () => stderr);
  });
}

function agentPids(stderr: string): number[] {
  return [...stderr.matchAll(/ready: pid (\d+)/g)].map((match) => Number(match[1]));
}

function groupGone(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return false;
  } catch {
    return true;
  }
}

async function untilGroupsGone(pids: number[], ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every(groupGone)) return true;
    await delay(50);
  }
  return pids.every(groupGone);
}

function registryEmpty(dir: string): boolean {
  const list = (sub: string) => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).filter((name) => !name.startsWith('.')) : []);
  return list('instances').length === 0 && list('slots').filter((name) => name.startsWith('slot-')).length === 0;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function untilLine(stderr: () => string, pattern: RegExp, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pattern.test(stderr())) return true;
    await delay(50);
  }
  return false;
}

async function check(agent: AgentUnderTest): Promise<Row> {
  const row: Row = { agent: `${agent.name} (${agent.package} ${agent.version})`, handshakeMs: undefined, says: '', noCredentials: '', authenticate: '-', spawns: 0, cleanNormal: false, cleanSigkill: false, cleanDoubleCtrlC: false, failures: [] };
  const fail = (what: string) => row.failures.push(what);
  const scratch = mkdtempSync(join(tmpdir(), `ap-agents-${agent.name}-`));
  try {
    // 1. No credentials at all: a clear sign-in message, once; one agent; nothing left after the exit.
    const dir1 = join(scratch, 'r1');
    const profiles = profilesFile(scratch, agent);
    const bare = await runCli(['--dir', dir1, 'run', '--verbose', '--first-event-timeout', '20s', '--profile', agent.name, '--profiles', profiles, 'say hi'], freshEnvironment({}));
    const says = /agent says: (.*)/.exec(bare.stderr)?.[1] ?? '';
    row.says = says;
    const readyAt = /ready: pid/.exec(bare.stderr);
    if (!readyAt) fail('no handshake');
    if (!/sign-in: /.test(says)) fail('capabilities not logged');
    // The failure, not the cap line that --verbose prints first (also "agent-pool: …").
    const message = bare.stderr.split('\n').filter((line) => line.startsWith('agent-pool: ') && !/^agent-pool: agent cap \d/.test(line)).join(' ');
    row.noCredentials = `exit ${bare.code}: ${message.replace(/^agent-pool: /, '').slice(0, 160)}${message.length > 160 ? '…' : ''}`;
    if (bare.code === 0) fail('succeeded without credentials');
    if (!agent.signInAdvice.test(bare.stderr)) fail(`sign-in advice missing (${agent.signInAdvice})`);
    if ((message.match(/Agent profile/g) ?? []).length > 1) fail('the failure is told more than once');
    const pids = agentPids(bare.stderr);
    row.spawns = pids.length;
    if (pids.length !== 1) fail(`${pids.length} agent processes for one run (restart loop?)`);
    row.cleanNormal = (await untilGroupsGone(pids)) && registryEmpty(dir1);
    if (!row.cleanNormal) fail('left something after a normal exit');

    // 2. The key variable set (a dummy key, no network): codex must get `authenticate`; the turn then waits on the network.
    const keyed = freshEnvironment({ [agent.keyVariable]: 'sk-agent-pool-compat-0000000000' });
    const dir2 = join(scratch, 'r2');
    const signIn = await runCli(['--dir', dir2, 'run', '--verbose', '--first-event-timeout', '15s', '--profile', agent.name, '--profiles', profiles, 'say hi'], keyed);
    const authenticated = /signing in with method "([^"]+)"/.exec(signIn.stderr)?.[1];
    row.authenticate = authenticated ? `${authenticated} (${agent.keyVariable} set) → exit ${signIn.code}` : `not sent (${agent.keyVariable} set) → exit ${signIn.code}`;
    if (agent.expectAuthenticate && authenticated !== agent.expectAuthenticate) fail(`authenticate ${agent.expectAuthenticate} not sent`);
    if (signIn.stderr.includes('sk-agent-pool-compat-0000000000')) fail('the key appeared on stderr');
    if (!(await untilGroupsGone(agentPids(signIn.stderr))) || !registryEmpty(dir2)) fail('left something after the keyed run');

    // 3. SIGKILL of the CLI mid-turn: the guardian takes the agent's group down.
    const dir3 = join(scratch, 'r3');
    let killedPids: number[] = [];
    await runCli(['--dir', dir3, 'run', '--verbose', '--first-event-timeout', '120s', '--profile', agent.name, '--profiles', profiles, 'say hi'], keyed, async (child, stderr) => {
      if (!(await untilLine(stderr, /agent says: /, 90_000))) fail('SIGKILL case: the agent never started');
      await delay(3000);
      killedPids = agentPids(stderr());
      child.kill('SIGKILL');
    });
    row.cleanSigkill = killedPids.length > 0 && (await untilGroupsGone(killedPids, 10_000));
    if (!row.cleanSigkill) fail('the agent outlived a SIGKILL of the CLI');

    // 4. Two Ctrl-C 300 ms apart mid-turn: exit 130, and record, slot and group all gone.
    const dir4 = join(scratch, 'r4');
    let doublePids: number[] = [];
    const double = await runCli(['--dir', dir4, 'run', '--verbose', '--first-event-timeout', '120s', '--profile', agent.name, '--profiles', profiles, 'say hi'], keyed, async (child, stderr) => {
      if (!(await untilLine(stderr, /agent says: /, 90_000))) fail('double Ctrl-C case: the agent never started');
      await delay(3000);
      doublePids = agentPids(stderr());
      child.kill('SIGINT');
      await delay(300);
      child.kill('SIGINT');
    });
    if (double.code !== 130) fail(`double Ctrl-C exited ${double.code ?? double.signal}, not 130`);
    row.cleanDoubleCtrlC = double.code === 130 && doublePids.length > 0 && (await untilGroupsGone(doublePids)) && registryEmpty(dir4);
    if (!row.cleanDoubleCtrlC) fail('left something after a double Ctrl-C');
    row.handshakeMs = bare.readyMs;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return row;
}

function table(rows: Row[]): string {
  const yes = (ok: boolean) => (ok ? 'yes' : '**NO**');
  const lines = [
    '| agent | CLI start → ready | what it says in `initialize` | no credentials | key variable set | agent processes per run | nothing left: exit / SIGKILL / double Ctrl-C | result |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((row) =>
      [
        row.agent,
        row.handshakeMs === undefined ? '-' : `${(row.handshakeMs / 1000).toFixed(1)} s`,
        row.says.replace(/\|/g, '/'),
        row.noCredentials.replace(/\|/g, '/'),
        row.authenticate,
        String(row.spawns),
        `${yes(row.cleanNormal)} / ${yes(row.cleanSigkill)} / ${yes(row.cleanDoubleCtrlC)}`,
        row.failures.length ? `FAIL: ${row.failures.join('; ')}` : 'pass',
      ].join(' | '),
    ).map((line) => `| ${line} |`),
  ];
  return lines.join('\n');
}

function writeReadme(text: string): void {
  const readme = join(ROOT, 'README.md');
  const begin = '<!-- agents-compat:begin -->';
  const end = '<!-- agents-compat:end -->';
  const content = readFileSync(readme, 'utf8');
  const start = content.indexOf(begin);
  const stop = content.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`README.md has no ${begin} … ${end} section`);
  writeFileSync(readme, `${content.slice(0, start + begin.length)}\n${text}\n${content.slice(stop)}`);
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: npm run test:agents builds it first');
  const only = process.env.AGENT_POOL_AGENTS?.split(',').map((name) => name.trim());
  const agents = AGENTS.filter((agent) => !only || only.includes(agent.name));
  install(agents);
  const rows: Row[] = [];
  for (const agent of agents) {
    console.log(`checking ${agent.name} …`);
    rows.push(await check(agent));
  }
  const load = loadavg()[0]!.toFixed(1);
  const stamp = `Last run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${cpus().length} cores (load ${load}: times are of a busy machine), no network, no credentials, fresh HOME per run.`;
  const text = `${stamp}\n\n${table(rows)}`;
  console.log(`\n${text}\n`);
  if (process.argv.includes('--readme')) writeReadme(text);
  const failed = rows.filter((row) => row.failures.length > 0);
  if (failed.length > 0) {
    console.error(`${failed.length} agent(s) failed: ${failed.map((row) => row.agent).join(', ')}`);
    process.exitCode = 1;
  }
}

void main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exitCode = 1;
});
