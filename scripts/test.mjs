// `npm test`: everything, in the order a failure is cheapest to find: type check, lint, unit tests
// (plain mocha over the core, real processes and files), integration tests in a real VS Code extension
// host, the same host with an untrusted folder (Restricted Mode), a window reload in the middle of a
// conversation, a window starting on an unusable registry directory, and the launchers' own tests: a
// deliberately failing suite must fail the run for the right reason, and `npm start -- --browser` must serve
// the Agent Pool view and stop cleanly on Ctrl-C.
// Installs what is missing first (npm ci, the suites' Debian packages, the offline VS Code host), so a fresh
// clone on a fresh machine just works. AGENT_POOL_SKIP_HOST_SETUP=1 skips the Debian packages and the host
// (to see what happens without them; CI never sets it).
// Ends with a summary naming why each failed step failed, one line `tests: N passed, N failed`, and a
// non-zero exit code if anything failed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const results = [];

/**
 * Runs one step, streaming its output. `judge(code, output)` decides the outcome: it returns undefined for
 * a pass or the reason for a failure (default: exit code 0 passes).
 */
function run(label, command, args, { env = {}, judge = passesOnZero } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    console.log(`\n=== ${label}`);
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      process.stderr.write(chunk);
    });
    const finish = (code, spawnError) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const reason = spawnError ? `could not start ${command}: ${spawnError.message}` : judge(code, output);
      const passing = Number(/(\d+) passing/.exec(output)?.[1] ?? 0);
      const failing = Number(/(\d+) failing/.exec(output)?.[1] ?? 0);
      const counted = /\d+ passing/.test(output) && judge === passesOnZero;
      results.push({ label, ok: reason === undefined, reason, seconds, passing, failing, counted });
      console.log(`=== ${label}: ${reason === undefined ? 'ok' : `FAILED: ${reason}`} (${seconds} s)`);
      resolve(reason === undefined);
    };
    child.on('error', (error) => finish(null, error));
    child.on('close', (code) => finish(code));
  });
}

function passesOnZero(code, output) {
  if (code === 0) return undefined;
  const failing = Number(/^\s*(\d+) failing/m.exec(output)?.[1] ?? 0);
  if (failing) return `${failing} failing (listed above), exit code ${code}`;
  return `exit code ${code}${lastErrorLine(output) ? `: ${lastErrorLine(output)}` : ''}`;
}

/** The line most likely to say what went wrong: the last one that reads like an error. */
function lastErrorLine(output) {
  const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.findLast((line) => /error|cannot|not installed|failed|refus/i.test(line)) ?? lines.at(-1);
}

/**
 * The launcher self-test passes only when the deliberately failing suite really ran in the host and the
 * launcher reported it: a non-zero exit, exactly `1 passing` and `1 failing`, and the failing test named.
 * Any other non-zero exit (no host, a broken build, a crash) is a failure of the self-test, with the reason.
 */
function selfTestVerdict(code, output) {
  const passing = /^\s*(\d+) passing/m.exec(output)?.[1];
  const failing = /^\s*(\d+) failing/m.exec(output)?.[1];
  if (passing === undefined && failing === undefined) {
    return `the deliberately failing suite never ran in the host (launcher exit code ${code}): ${lastErrorLine(output) ?? 'no output'}`;
  }
  if (code === 0) return `the launcher exited 0 although its suite reported ${failing ?? 0} failing`;
  if (passing !== '1' || failing !== '1') return `expected exactly 1 passing and 1 failing, the suite reported ${passing ?? 0} passing and ${failing ?? 0} failing`;
  if (!/1\) launcher self-test[\s\S]*fails on purpose/.test(output)) return 'the launcher did not name the failing test "fails on purpose"';
  return undefined;
}

/**
 * A fresh clone has no node_modules; a pull that changed package-lock.json leaves them stale. npm keeps what
 * it installed in node_modules/.package-lock.json: any package whose version differs from the lockfile's
 * means npm ci.
 */
function dependenciesNeedInstall() {
  const installedFile = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installedFile)) return true;
  const wanted = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
  const installed = JSON.parse(readFileSync(installedFile, 'utf8')).packages ?? {};
  return Object.entries(wanted).some(([path, entry]) => path !== '' && !entry.optional && installed[path]?.version !== entry.version);
}

async function main() {
  if (dependenciesNeedInstall()) await run('npm ci', 'npm', ['ci', '--no-audit', '--no-fund']);
  if (process.env.AGENT_POOL_SKIP_HOST_SETUP) {
    console.log('\n=== AGENT_POOL_SKIP_HOST_SETUP is set: not installing Debian packages or the VS Code host');
  } else {
    await run("the suites' Debian packages (scripts/debian-packages.txt)", 'bash', [join(root, 'scripts', 'debian-packages.sh'), 'ensure']);
    await run('offline VS Code host (code-server, Node 24, Chromium)', 'bash', [join(root, 'scripts', 'ensure-vscode-host.sh')]);
  }
  await run('type check', bin('tsc'), ['-p', '.', '--noEmit']);
  await run('lint', bin('eslint'), ['--max-warnings=0', 'src', 'test', 'bench', 'scripts']);
  // The tests exercise the bundles that ship: minified, as npm run package builds them.
  await run('build', process.execPath, ['scripts/build.mjs', '--production']);
  await run('unit tests (mocha, plain Node)', bin('mocha'), ['test/unit/**/*.test.ts']);
  await run('integration tests (real VS Code extension host)', process.execPath, ['test/runner/run-integration.mjs']);
  await run('Restricted Mode tests (untrusted folder, real VS Code extension host)', process.execPath, ['test/runner/run-integration.mjs'], {
    env: { AGENT_POOL_TEST_SUITE: 'restricted', AGENT_POOL_TEST_TRUST: 'restricted' },
  });
  // Phase 1 reloads the window it runs in; the reloaded window runs the suite again as phase 2.
  await run('window reload: a conversation continues in the reloaded window (two phases, real VS Code extension host)', process.execPath, ['test/runner/run-integration.mjs'], {
    env: { AGENT_POOL_TEST_SUITE: 'reload' },
  });
  // The window starts with agentPool.registryDirectory naming a file (test/unusableStart/prepare.mjs): issue 13's fail-fast from the start.
  await run('registry directory unusable from the start: the error in under 2 s (real VS Code extension host)', process.execPath, ['test/runner/run-integration.mjs'], {
    env: { AGENT_POOL_TEST_SUITE: 'unusableStart' },
  });
  await run('launcher self-test: the deliberately failing suite runs in the host and fails the run', process.execPath, ['test/runner/run-integration.mjs'], {
    env: { AGENT_POOL_TEST_SUITE: 'selftest' },
    judge: selfTestVerdict,
  });
  await run('launcher: npm start -- --browser shows the Agent Pool view, Ctrl-C leaves no process', process.execPath, ['test/runner/start-browser-check.mjs']);

  console.log('\n=== summary');
  for (const r of results) {
    const counts = r.counted ? ` ${r.passing} passing, ${r.failing} failing` : '';
    console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.label} (${r.seconds} s)${counts}${r.ok ? '' : `\n         why: ${r.reason}`}`);
  }
  const passed = results.reduce((sum, r) => sum + (r.counted ? r.passing : 0), 0);
  const failed = results.reduce((sum, r) => sum + (r.counted ? r.failing : 0), 0) + results.filter((r) => !r.ok && !(r.counted && r.failing)).length;
  console.log(`tests: ${passed} passed, ${failed} failed`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main();
