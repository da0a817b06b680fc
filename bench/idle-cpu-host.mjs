// The extension host's CPU while the window is idle and 5 other windows heartbeat into the same
// registry directory, with Agent Pool active (the demo profile, one warm agent) and with no extension
// at all: the same offline VS Code host (code-server + headless Chromium) both times. Prints one JSON
// line. Run by bench/idle-cpu.bench.ts; alone: node bench/idle-cpu-host.mjs [seconds].
// CPU is the extension host process's own utime + stime from /proc (its agents are other processes).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { chromiumBinary, codeServerEntry, node24Binary } from '../test/runner/host-paths.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MEASURE_S = Number(process.argv[2] ?? 30);
const SETTLE_S = Number(process.env.AGENT_POOL_IDLE_SETTLE_S ?? 30);
const OTHER_WINDOWS = 5;
const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

function descendants(pid) {
  const parent = new Map();
  for (const entry of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const below = (p) => {
    for (let c = parent.get(p), hops = 0; c !== undefined && hops < 64; c = parent.get(c), hops++) if (c === pid) return true;
    return false;
  };
  return [...parent.keys()].filter(below);
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

async function freePort() {
  return new Promise((ok) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

function startWindow(script, registry) {
  const child = spawn(process.execPath, [script, registry, '0', join(root, 'dist')], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((ok, fail) => {
    child.stdout.on('data', (chunk) => String(chunk).includes('"ready"') && ok(child));
    child.once('exit', (code) => fail(new Error(`a heartbeating window exited with ${code}`)));
  });
}

async function measure(variant, scratch, windowScript) {
  const dir = join(scratch, variant);
  for (const sub of ['home', 'data/Machine', 'extensions', 'state', 'config', 'cache', 'workspace', 'registry']) mkdirSync(join(dir, sub), { recursive: true });
  const registry = join(dir, 'registry');
  // Remote (machine) settings: a browser window ignores machine-scoped settings written in User settings.
  writeFileSync(join(dir, 'data', 'Machine', 'settings.json'), JSON.stringify({ 'agentPool.defaultProfile': 'demo', 'agentPool.registryDirectory': registry }));
  const windows = [];
  for (let i = 0; i < OTHER_WINDOWS; i++) windows.push(await startWindow(windowScript, registry));
  const port = await freePort();
  const server = spawn(
    node24Binary(),
    [codeServerEntry(), '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', join(dir, 'data'), '--extensions-dir', join(dir, 'extensions'),
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened', '--vscode-option', 'enable-smoke-test-driver'],
    { detached: true, stdio: 'ignore', env: { ...process.env, HOME: join(dir, 'home'), XDG_STATE_HOME: join(dir, 'state'), XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache') } },
  );
  let browser;
  try {
    for (let i = 0; i < 300; i++) {
      if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
      await sleep(200);
    }
    browser = await chromium.launch({ executablePath: chromiumBinary(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const payload = [['skipWelcome', 'true'], ['skipReleaseNotes', 'true'], ['disableExtensions', 'true']];
    if (variant === 'extension') payload.unshift(['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${root}`]);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(join(dir, 'workspace'))}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    let host;
    for (let i = 0; i < 300 && !host; i++) {
      host = descendants(server.pid).find((pid) => /--type=extensionHost/.test(cmdline(pid)));
      if (!host) await sleep(200);
    }
    if (!host) throw new Error(`${variant}: no extension host process appeared`);
    if (variant === 'extension') {
      // Active: this window's record is in the registry and its warm demo agent runs.
      for (let i = 0; i < 300; i++) {
        const records = readdirSync(join(registry, 'instances')).filter((n) => /^\d{8}_.*\.json$/.test(n) && !n.includes('metrics'));
        const mine = records.some((n) => JSON.parse(readFileSync(join(registry, 'instances', n), 'utf8')).pid === host);
        if (mine && descendants(host).some((pid) => cmdline(pid).includes('demo-agent.js'))) break;
        await sleep(200);
      }
    }
    await sleep(SETTLE_S * 1000);
    const before = cpuMs(host);
    const started = Date.now();
    await sleep(MEASURE_S * 1000);
    const used = cpuMs(host) - before;
    return { variant, cpuMs: used, wallMs: Date.now() - started, percent: (used / (Date.now() - started)) * 100 };
  } finally {
    await browser?.close().catch(() => {});
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // gone
    }
    for (const window of windows) window.kill('SIGTERM');
    await sleep(500);
  }
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'ap-idle-cpu-'));
  try {
    const windowScript = join(scratch, 'secondWindow.js');
    await esbuild.build({ entryPoints: [join(root, 'test', 'integration', 'processes', 'secondWindow.ts')], outfile: windowScript, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', define: { 'import.meta.url': 'importMetaUrl' }, banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" } });
    const disabled = await measure('disabled', scratch, windowScript);
    const extension = await measure('extension', scratch, windowScript);
    process.stdout.write(JSON.stringify({ extension, disabled, seconds: MEASURE_S, otherWindows: OTHER_WINDOWS }) + '\n');
  } finally {
    rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
