// `npm run test:compat`: the same prompts through our CLI and through acpx (the closest peer, a headless
// ACP client) against our demo agent must give the same answer text.
//
// Not part of `npm test`: acpx comes from the npm registry (a fresh machine needs the network for it), and
// it needs Node >= 22.13, so it runs under the cached Node 24 of the offline VS Code host and is installed
// into its own cache folder here rather than as a devDependency (which would bring back an engine warning
// on the Node 20 we develop with). After the first install a run takes a few seconds.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { node24Binary } from '../test/runner/host-paths.mjs';

export const ACPX_VERSION = '0.19.1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function acpxHome() {
  return process.env.AGENT_POOL_ACPX_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'agent-pool-compat', `acpx-${ACPX_VERSION}`);
}

function run(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    child.on('error', (error) => {
      console.error(`compat: could not start ${command}: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function ensureAcpx(node24) {
  const home = acpxHome();
  const cli = join(home, 'node_modules', 'acpx', 'dist', 'cli.js');
  const manifest = join(home, 'node_modules', 'acpx', 'package.json');
  if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).version === ACPX_VERSION && existsSync(cli)) return cli;
  mkdirSync(home, { recursive: true });
  console.log(`compat: installing acpx ${ACPX_VERSION} into ${home} (from the npm registry, under Node 24)`);
  // Node 24 first on PATH: npm's `#!/usr/bin/env node` then runs under it, so the engine check sees
  // Node 24 and warns about nothing (the cached Node 24 carries no npm of its own).
  const env = { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH ?? ''}` };
  const code = await run('npm', ['install', '--prefix', home, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `acpx@${ACPX_VERSION}`], { env });
  if (code !== 0 || !existsSync(cli)) throw new Error(`npm could not install acpx@${ACPX_VERSION} into ${home} (exit ${code}); the npm registry must be reachable once.`);
  return cli;
}

async function main() {
  const node24 = node24Binary();
  if (!existsSync(node24)) {
    console.error(`compat: Node 24 is missing at ${node24}; run scripts/ensure-vscode-host.sh (npm test does) first.`);
    process.exit(1);
  }
  const acpx = await ensureAcpx(node24);
  if ((await run(process.execPath, ['scripts/build.mjs'], { cwd: root })) !== 0) process.exit(1);
  const mocha = join(root, 'node_modules', '.bin', 'mocha');
  const code = await run(mocha, ['--no-config', '--node-option', 'import=tsx', '--extension', 'ts', '--timeout', '60000', 'test/compat/*.test.ts'], {
    cwd: root,
    env: { ...process.env, AGENT_POOL_ACPX: acpx, AGENT_POOL_NODE24: node24 },
  });
  process.exit(code);
}

main().catch((error) => {
  console.error(`compat: ${error.message}`);
  process.exit(1);
});
