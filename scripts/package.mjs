// `npm run package`: a release build, then an installable .vsix made by @vscode/vsce from the
// .vscodeignore allow-list. Prints the bundle sizes and, where the offline VS Code host is installed,
// proves the .vsix installs by running `code-server --install-extension` into a scratch directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeServerEntry, node24Binary, offlineHostInstalled } from '../test/runner/host-paths.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const vsix = join(root, `${manifest.name}-${manifest.version}.vsix`);
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

execFileSync(process.execPath, ['scripts/build.mjs', '--production'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--out', vsix], {
  cwd: root,
  stdio: 'inherit',
});

const bundles = readdirSync(join(root, 'dist')).filter((name) => name.endsWith('.js'));
for (const name of bundles) console.log(`bundle dist/${name}: ${kib(statSync(join(root, 'dist', name)).size)}`);
console.log(`package ${vsix}: ${kib(statSync(vsix).size)}`);

if (offlineHostInstalled() && !process.argv.includes('--no-verify')) {
  const extensionsDir = mkdtempSync(join(tmpdir(), 'agent-pool-vsix-'));
  try {
    const run = (...args) =>
      execFileSync(node24Binary(), [codeServerEntry(), '--extensions-dir', extensionsDir, ...args], {
        encoding: 'utf8',
        env: { ...process.env, HOME: extensionsDir },
      });
    run('--install-extension', vsix);
    const listed = run('--list-extensions', '--show-versions');
    const id = `${manifest.publisher}.${manifest.name}@${manifest.version}`;
    if (!listed.includes(id)) throw new Error(`code-server did not list ${id} after installing the .vsix:\n${listed}`);
    console.log(`verified: code-server --install-extension accepted the .vsix (${id})`);
  } finally {
    rmSync(extensionsDir, { recursive: true, force: true });
  }
}
