// One esbuild script for every shipped entry point (house style: esbuild-sample).
// cjs for Node, `vscode` external, minified only for release, sourcemaps for development.
// Usage: node scripts/build.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import { readFileSync, statSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
/** One version for the extension and the `agent-pool` command: the one in package.json. */
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** Every bundle we ship: the extension, and the programs it starts as child processes. */
export const entryPoints = {
  extension: 'src/extension.ts',
  'demo-agent': 'src/demo-agent/main.ts',
  guardian: 'src/core/process/guardianMain.ts',
  cli: 'src/cli/main.ts',
  // Loaded only when agentPool.backend is "etcd" (src/core/backend/openBackend.ts).
  'etcd-backend': 'src/core/backend/etcd/index.ts',
};

const options = {
  entryPoints,
  outdir: 'dist',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['vscode'],
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  // The ACP SDK and execa are ESM-only; esbuild turns them into cjs. import.meta.url is the one
  // construct that does not survive that, so give it a cjs equivalent.
  define: { 'import.meta.url': 'importMetaUrl', AGENT_POOL_VERSION: JSON.stringify(version) },
  // bundleLoadStart lets the extension report how long loading its bundle took (part of activation time).
  banner: { js: "const bundleLoadStart = performance.now(); const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log('[build] watching for changes');
} else {
  await esbuild.build(options);
  for (const name of Object.keys(entryPoints)) {
    const bytes = statSync(`dist/${name}.js`).size;
    console.log(`[build] dist/${name}.js ${(bytes / 1024).toFixed(1)} KiB${production ? ' (minified)' : ''}`);
  }
}
