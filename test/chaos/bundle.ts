import * as esbuild from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const built = new Map<string, Promise<string>>();

/**
 * Bundles a TypeScript entry (a child process for tests and chaos) into one CommonJS file, so that
 * a hundred children start as plain `node file.cjs` in tens of milliseconds instead of each
 * compiling TypeScript on start.
 */
export function bundleEntry(entry: string, options: { besideDist?: boolean } = {}): Promise<string> {
  const absolute = path.resolve(entry);
  let result = built.get(absolute);
  if (!result) {
    result = (async () => {
      // Children that start agents find dist/guardian.js from an ancestor folder: bundle them under out/.
      const parent = options.besideDist ? path.join(__dirname, '..', '..', 'out') : os.tmpdir();
      mkdirSync(parent, { recursive: true });
      const directory = mkdtempSync(path.join(parent, 'agent-pool-bundle-'));
      process.once('exit', () => rmSync(directory, { recursive: true, force: true }));
      const outfile = path.join(directory, `${path.basename(entry, '.ts')}.cjs`);
      await esbuild.build({
        entryPoints: [absolute],
        outfile,
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node20',
        logLevel: 'error',
        // As scripts/build.mjs: the ESM-only ACP SDK becomes cjs, import.meta.url included (the turn actor runs a pool).
        define: { 'import.meta.url': 'importMetaUrl' },
        banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
      });
      return outfile;
    })();
    built.set(absolute, result);
  }
  return result;
}

export const ACTOR_ENTRY = path.join(__dirname, 'actor.ts');
