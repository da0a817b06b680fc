// `npm start`: builds the extension and opens it in a real VS Code.
// - Desktop: `code --extensionDevelopmentPath=<this repo>` where `code` is on PATH.
// - Otherwise: the VS Code server from code-server (see scripts/ensure-vscode-host.sh) on 127.0.0.1, with
//   the freshly packaged extension installed; prints the URL and runs until Ctrl-C, then stops cleanly.
// Options: --browser forces the server route; --port N (default 8123); a folder to open (default: cwd).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeServerEntry, hostCacheDir, node24Binary, offlineHostInstalled } from '../test/runner/host-paths.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const forceBrowser = args.includes('--browser');
const portIndex = args.indexOf('--port');
const port = portIndex >= 0 ? Number(args[portIndex + 1]) : 8123;
const folder = resolve(args.find((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--port') ?? process.cwd());

function ensureDependencies() {
  if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  }
}

function hasDesktopCode() {
  return spawnSync('code', ['--version'], { stdio: 'ignore' }).status === 0;
}

function startDesktop() {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  console.log(`Opening ${folder} in VS Code with Agent Pool from ${root}`);
  spawn('code', ['--new-window', `--extensionDevelopmentPath=${root}`, folder], { stdio: 'inherit' });
}

async function startBrowser() {
  // AGENT_POOL_SKIP_HOST_SETUP means what it means for npm test: install nothing, use what is there.
  if (!process.env.AGENT_POOL_SKIP_HOST_SETUP) execFileSync('bash', [join(root, 'scripts', 'ensure-vscode-host.sh')], { stdio: 'inherit' });
  else if (!offlineHostInstalled()) {
    console.error(`The offline VS Code host is not installed in ${hostCacheDir()} and AGENT_POOL_SKIP_HOST_SETUP is set: unset it, or run bash scripts/ensure-vscode-host.sh.`);
    process.exit(1);
  }
  execFileSync(process.execPath, ['scripts/package.mjs', '--no-verify'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const vsix = join(root, `${manifest.name}-${manifest.version}.vsix`);
  // AGENT_POOL_START_DIR: where the server keeps its user data and extensions (the launcher's test uses a
  // scratch folder, so it never touches a person's own `npm start` state).
  const state = process.env.AGENT_POOL_START_DIR ?? join(hostCacheDir(), 'start');
  const dirs = { data: join(state, 'data'), extensions: join(state, 'extensions') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const server = [codeServerEntry(), '--user-data-dir', dirs.data, '--extensions-dir', dirs.extensions];
  execFileSync(node24Binary(), [...server, '--force', '--install-extension', vsix], { stdio: ['ignore', 'ignore', 'inherit'] });

  // Its own process group, so that stopping takes the server and everything it started (extension hosts,
  // the extension's agents) at once.
  const child = spawn(
    node24Binary(),
    [...server, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--ignore-last-opened'],
    { detached: true, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the VS Code server…');
    signalGroup(child.pid, 'SIGTERM');
    // Exit only once the whole group is gone: Ctrl-C leaves no process behind.
    const deadline = Date.now() + 5000;
    while (groupAlive(child.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    signalGroup(child.pid, 'SIGKILL');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code) => {
    if (stopping) return;
    console.error(`The VS Code server exited (code ${code}).`);
    signalGroup(child.pid, 'SIGKILL');
    process.exit(1);
  });
  await waitUntilServing(port, child);
  console.log(`\nAgent Pool is running in VS Code for the browser:\n\n  http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}\n\nPress Ctrl-C to stop.`);
}

async function waitUntilServing(port, child) {
  const deadline = Date.now() + 60_000;
  while (child.exitCode === null && Date.now() < deadline) {
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (child.exitCode === null) console.error(`The VS Code server did not answer on port ${port} within 60 s; still waiting.`);
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

ensureDependencies();
if (!forceBrowser && hasDesktopCode()) startDesktop();
else await startBrowser();
