// `npm test`: everything, in the order a failure is cheapest to find: type check, lint, unit tests
// (plain mocha over the core, real processes and files), integration tests in a real VS Code extension
// host, the same host with an untrusted folder (Restricted Mode), and the launcher's self-test (a
// deliberately failing suite must make the launcher fail).
// Installs what is missing first (npm ci, the offline VS Code host), so a fresh clone just works.
// Ends with one line `tests: N passed, N failed` and a non-zero exit code if anything failed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const results = [];

function run(label, command, args, { env = {}, expectFailure = false } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    console.log(`\n=== ${label}`);
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const ok = expectFailure ? code !== 0 : code === 0;
      const passing = Number(/(\d+) passing/.exec(output)?.[1] ?? 0);
      const failing = Number(/(\d+) failing/.exec(output)?.[1] ?? 0);
      results.push({ label, ok, seconds, passing, failing, counted: /passing/.test(output) && !expectFailure });
      console.log(`=== ${label}: ${ok ? 'ok' : 'FAILED'} (${seconds} s)`);
      resolve(ok);
    });
  });
}

async function main() {
  if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
    await run('npm ci', 'npm', ['ci', '--no-audit', '--no-fund']);
  }
  if (!process.env.AGENT_POOL_SKIP_HOST_SETUP) {
    await run('offline VS Code host (code-server, Node 24, Chromium)', 'bash', [join(root, 'scripts', 'ensure-vscode-host.sh')]);
  }
  await run('type check', bin('tsc'), ['-p', '.', '--noEmit']);
  await run('lint', bin('eslint'), ['--max-warnings=0', 'src', 'test', 'bench', 'scripts']);
  // The tests exercise the bundles that ship: minified, as npm run package builds them.
  await run('build', process.execPath, ['scripts/build.mjs', '--production']);
  await run('unit tests (mocha, plain Node)', bin('mocha'), []);
  await run('integration tests (real VS Code extension host)', process.execPath, ['test/runner/run-integration.mjs']);
  await run('Restricted Mode tests (untrusted folder, real VS Code extension host)', process.execPath, ['test/runner/run-integration.mjs'], {
    env: { AGENT_POOL_TEST_SUITE: 'restricted', AGENT_POOL_TEST_TRUST: 'restricted' },
  });
  await run('launcher self-test: a failing suite must fail the run', process.execPath, ['test/runner/run-integration.mjs'], {
    env: { AGENT_POOL_TEST_SUITE: 'selftest' },
    expectFailure: true,
  });

  console.log('\n=== summary');
  for (const r of results) {
    const counts = r.counted ? ` ${r.passing} passing, ${r.failing} failing` : '';
    console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.label} (${r.seconds} s)${counts}`);
  }
  const passed = results.reduce((sum, r) => sum + (r.counted ? r.passing : 0), 0);
  const failed = results.reduce((sum, r) => sum + (r.counted ? r.failing : 0), 0) + results.filter((r) => !r.ok && !r.failing).length;
  console.log(`tests: ${passed} passed, ${failed} failed`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main();
