// `npm start`: builds the extension and opens it in a real VS Code.
// - Desktop: `code --extensionDevelopmentPath=<this repo>` where `code` is on PATH.
// - Otherwise: the VS Code server from code-server (see scripts/ensure-vscode-host.sh) on 127.0.0.1, with
//   the freshly packaged extension installed; prints the URL and runs until Ctrl-C, then stops cleanly.
// Options: --browser forces the server route; --port N (default 8123); a folder to open (default: cwd).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeServerEntry, hostCacheDir, node24Binary } from '../test/runner/host-paths.mjs';

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

function startBrowser() {
  execFileSync('bash', [join(root, 'scripts', 'ensure-vscode-host.sh')], { stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/package.mjs', '--no-verify'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const vsix = join(root, `${manifest.name}-${manifest.version}.vsix`);
  const state = join(hostCacheDir(), 'start');
  const dirs = { data: join(state, 'data'), extensions: join(state, 'extensions') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const server = [codeServerEntry(), '--user-data-dir', dirs.data, '--extensions-dir', dirs.extensions];
  execFileSync(node24Binary(), [...server, '--force', '--install-extension', vsix], { stdio: ['ignore', 'ignore', 'inherit'] });

  const child = spawn(
    node24Binary(),
    [...server, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--ignore-last-opened'],
    { detached: true, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  console.log(`\nAgent Pool is running in VS Code for the browser:\n\n  http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}\n\nPress Ctrl-C to stop.`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the VS Code server…');
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      process.exit(0);
    }, 3000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code) => {
    if (!stopping) console.error(`The VS Code server exited (code ${code}).`);
    process.exit(stopping ? 0 : 1);
  });
}

ensureDependencies();
if (!forceBrowser && hasDesktopCode()) startDesktop();
else startBrowser();
