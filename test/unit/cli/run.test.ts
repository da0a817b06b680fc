import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunningCli, assertBuilt, runBuiltCli } from './cliProcess';

/** `agent-pool run`: a headless pool that registers like a window, with the real demo agent. */
describe('agent-pool run (built binary)', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-run-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('streams the demo agent answer to stdout and exits 0', async () => {
    const result = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '/demo chunks=3\nhello from a test']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'hello from a test\n');
    assert.match(result.stderr, /^end_turn · agent demo-\d+ \(demo\)/m);
  });

  it('shows up as a window while it runs, and leaves no record behind', async () => {
    const run = new RunningCli(['--dir', dir, 'run', '--profile', 'demo', '/demo latency=4000\nslow answer']);
    let listed = false;
    for (let attempt = 0; attempt < 100 && !listed; attempt++) {
      const instances = await runBuiltCli(['--dir', dir, 'instances', '--json']);
      listed = /agent-pool run \(/.test(instances.stdout);
    }
    assert.ok(listed, 'the running CLI pool never appeared in `agent-pool instances`');
    const code = await new Promise<number | null>((resolve) => run.child.once('exit', resolve));
    assert.equal(code, 0);
    assert.match(run.output, /slow answer/);
    const left = readdirSync(join(dir, 'instances')).filter((name) => !name.startsWith('.'));
    assert.deepEqual(left, [], 'the run left registry files behind');
  });

  it('cancels on Ctrl-C with exit code 130', async () => {
    const run = new RunningCli(['--dir', dir, 'run', '--profile', 'demo', '/demo hang\nnever answered']);
    // The slot is taken before the agent spawns: once it exists the turn is under way.
    for (let attempt = 0; attempt < 200; attempt++) {
      const slots = (() => {
        try {
          return readdirSync(join(dir, 'slots')).filter((name) => name.startsWith('slot-'));
        } catch {
          return [];
        }
      })();
      if (slots.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(await run.stop('SIGINT'), 130);
  });

  // An unknown --profile is a usage error (2) since the exit-code table of issue 17; it was a failure (1) before.
  it('names an unknown profile and a bad profiles file, with exit code 2', async () => {
    const unknown = await runBuiltCli(['--dir', dir, 'run', '--profile', 'nope', 'hi']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no agent profile "nope"\. Known profiles: demo/);
    const file = join(dir, 'profiles.json');
    writeFileSync(file, '{ not json');
    const bad = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--profiles', file, 'hi']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--profiles .*profiles\.json/);
  });
});
