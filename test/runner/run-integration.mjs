// `npm run test:integration`: builds the integration suite and runs it in a real VS Code extension host.
// Desktop VS Code through @vscode/test-electron where it can be downloaded; otherwise (offline, as in CI)
// the VS Code server from code-server in headless Chromium. Both hosts load the same test entry.
// Exit code: the test run's. Env: AGENT_POOL_TEST_HOST=electron|code-server forces a host;
// AGENT_POOL_TEST_SUITE=<dir under test/> runs another suite with the same entry (selftest: the launcher's
// deliberately failing suite; restricted: Restricted Mode; reload: a suite whose first phase reloads the window,
// which runs the suite again as its second phase, in the same user-data directory and workspace; unusableStart: a window
// whose registry directory is a file from the start). AGENT_POOL_TEST_TRUST=restricted (the default for
// the restricted suite) enables workspace trust so the opened folder is untrusted; otherwise trust is disabled.
// A suite's directory may hold prepare.mjs: `prepare({ scratch, workspaceDir })` runs before the host starts and
// returns `{ machineSettings?, env? }`: settings the window starts with (machine-scoped ones included, which
// apply only on a reload otherwise) and environment for the tests (unusableStart: a file as the registry directory).
// AGENT_POOL_HOST_DEBUG=1 logs the browser's console, errors and failed requests (code-server host).
import { lookup } from 'node:dns/promises';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';
import { offlineHostInstalled } from './host-paths.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const suite = process.env.AGENT_POOL_TEST_SUITE ?? 'integration';
const outDir = join(root, 'out', 'test', suite);
const workspaceTrust = (process.env.AGENT_POOL_TEST_TRUST ?? (suite === 'restricted' ? 'restricted' : 'disabled')) === 'restricted' ? 'restricted' : 'disabled';

export async function buildSuite() {
  const sourceDir = join(root, 'test', suite);
  const tests = readdirSync(sourceDir).filter((name) => name.endsWith('.test.ts'));
  // Helper programs the tests start as separate processes (another "window", for instance).
  const processesDir = join(root, 'test', 'integration', 'processes');
  const processes = existsSync(processesDir) ? readdirSync(processesDir).filter((name) => name.endsWith('.ts')) : [];
  rmSync(outDir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [
      // Explicit output names: suites outside test/integration/ would otherwise land in sub-folders of outDir.
      { in: join(root, 'test', 'integration', 'index.ts'), out: 'index' },
      ...tests.map((name) => ({ in: join(sourceDir, name), out: name.replace(/\.ts$/, '') })),
      ...processes.map((name) => ({ in: join(processesDir, name), out: join('processes', name.replace(/\.ts$/, '')) })),
    ],
    outdir: outDir,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    // As in scripts/build.mjs: ESM-only dependencies become cjs, import.meta.url included.
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  return join(outDir, 'index.js');
}

async function canDownloadVSCode() {
  try {
    await Promise.race([
      lookup('update.code.visualstudio.com'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('dns timeout')), 3000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

/** Streams the file the test entry appends to, so the host's test output reaches this terminal live. */
function followFile(path, onText) {
  let offset = 0;
  const buffer = Buffer.alloc(64 * 1024);
  const drain = () => {
    let fd;
    try {
      if (statSync(path).size <= offset) return;
      fd = openSync(path, 'r');
      let bytes;
      while ((bytes = readSync(fd, buffer, 0, buffer.length, offset)) > 0) {
        offset += bytes;
        onText(buffer.subarray(0, bytes).toString('utf8'));
      }
    } catch {
      // not written yet
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const timer = setInterval(drain, 100);
  return () => {
    clearInterval(timer);
    drain();
  };
}

async function main() {
  const started = Date.now();
  const testsEntry = await buildSuite();
  const scratch = mkdtempSync(join(tmpdir(), 'agent-pool-it-'));
  const workspaceDir = join(scratch, 'workspace');
  mkdirSync(workspaceDir, { recursive: true });
  writeFileSync(join(workspaceDir, 'README.md'), '# A workspace for the Agent Pool integration tests\n');
  const logFile = join(scratch, 'test-output.log');
  writeFileSync(logFile, '');
  const prepareFile = join(root, 'test', suite, 'prepare.mjs');
  const prepared = existsSync(prepareFile) ? await (await import(pathToFileURL(prepareFile).href)).prepare({ scratch, workspaceDir }) : {};
  const suiteEnv = prepared.env ?? {};
  let output = '';
  const stopFollowing = followFile(logFile, (text) => {
    output += text;
    process.stdout.write(text);
  });
  const log = (line) => console.log(line);
  const forced = process.env.AGENT_POOL_TEST_HOST;
  const useElectron = forced ? forced === 'electron' : !offlineHostInstalled() && (await canDownloadVSCode());
  let exitCode;
  try {
    if (useElectron) {
      log('[host] desktop VS Code via @vscode/test-electron');
      const { runTests } = await import('@vscode/test-electron');
      // Desktop VS Code applies machine settings from User settings: a user-data directory of the suite's own.
      const userDataArgs = [];
      if (prepared.machineSettings) {
        const userData = join(scratch, 'user-data');
        mkdirSync(join(userData, 'User'), { recursive: true });
        writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify(prepared.machineSettings, null, 2));
        userDataArgs.push(`--user-data-dir=${userData}`);
      }
      exitCode = await runTests({
        extensionDevelopmentPath: root,
        extensionTestsPath: testsEntry,
        launchArgs: [workspaceDir, '--disable-extensions', ...(workspaceTrust === 'restricted' ? [] : ['--disable-workspace-trust']), ...userDataArgs],
        extensionTestsEnv: { ...suiteEnv, AGENT_POOL_TEST_LOG: logFile },
      }).then(
        () => 0,
        () => 1,
      );
    } else {
      if (!offlineHostInstalled()) {
        console.error('[host] the offline VS Code host is not installed: run `bash scripts/ensure-vscode-host.sh` first');
        process.exit(1);
      }
      log('[host] VS Code server (code-server) in headless Chromium');
      const { runInCodeServer } = await import('./code-server-host.mjs');
      exitCode = await runInCodeServer({
        extensionDir: root,
        testsEntry,
        workspaceDir,
        logFile,
        screenshotDir: join(root, 'test-results', 'screenshots'),
        workspaceTrust,
        machineSettings: prepared.machineSettings,
        env: suiteEnv,
        timeoutMs: Number(process.env.AGENT_POOL_TEST_TIMEOUT_MS ?? 10 * 60_000),
        log,
      });
    }
  } finally {
    stopFollowing();
    rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
  const passed = Number(/(\d+) passing/.exec(output)?.[1] ?? 0);
  const failed = Number(/(\d+) failing/.exec(output)?.[1] ?? 0);
  const noTests = passed + failed === 0;
  log(`[host] ${suite} suite: exit code ${exitCode}, ${passed} passing, ${failed} failing, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // A run that reports success but ran nothing is a broken harness, not a pass.
  process.exit(exitCode === 0 && noTests ? 1 : exitCode);
}

main().catch((error) => {
  console.error('[host]', error);
  process.exit(1);
});
