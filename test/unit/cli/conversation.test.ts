import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunEvent, type DoneEvent } from '../../../src/cli/output/runEvents';
import { assertBuilt, runBuiltCli } from './cliProcess';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/** `agent-pool run --session NAME`: each run is a new process and pool; the conversation carries over. */
describe('agent-pool run --session (built binary, real demo agents)', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-run-session-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('run --session s "alpha", then run --session s "/demo recall", answers with "alpha"', async () => {
    const first = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--session', 's', 'alpha']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'alpha\n');
    const second = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--session', 's', '/demo recall']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'alpha\n');
    assert.match(second.stderr, /conversation "s": resumed session demo-\S+ \(turn 2\)/);
  });

  it('says plainly when the earlier context is gone, and --close-session ends the conversation', async () => {
    const profiles = join(dir, 'profiles.json');
    const sessions = join(dir, 'demo-sessions');
    const profile = (support: string) => ({ demo: { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { DEMO_AGENT_SESSION_SUPPORT: support, DEMO_AGENT_SESSION_DIR: sessions } } });
    writeFileSync(profiles, JSON.stringify(profile('none')));
    assert.equal((await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--profiles', profiles, '--session', 'lost', 'alpha'])).code, 0);
    const lost = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--profiles', profiles, '--session', 'lost', '/demo recall']);
    assert.equal(lost.code, 0, lost.stderr);
    assert.equal(lost.stdout, '(nothing earlier in this session)\n');
    assert.match(lost.stderr, /conversation "lost": its earlier context is gone: profile "demo" cannot resume sessions/);

    writeFileSync(profiles, JSON.stringify(profile('full')));
    assert.equal((await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--profiles', profiles, '--session', 'done', 'alpha'])).code, 0);
    const closing = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--profiles', profiles, '--session', 'done', '--close-session', '/demo recall']);
    assert.equal(closing.code, 0, closing.stderr);
    assert.equal(closing.stdout, 'alpha\n');
    assert.match(closing.stderr, /conversation "done": closed/);
    assert.deepEqual(readdirSync(sessions).filter((name) => name.endsWith('.json')), [], 'session/close reached the agent');
    assert.equal(existsSync(join(dir, 'conversations')) && readdirSync(join(dir, 'conversations')).filter((n) => n.endsWith('.json')).length, 1, 'only the "lost" record is left');
    const fresh = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--profiles', profiles, '--session', 'done', '/demo recall']);
    assert.equal(fresh.stdout, '(nothing earlier in this session)\n');
  });

  it('the done line of --format json carries the context in use and the window, and text says it after the cost', async () => {
    const done = async (...args: string[]) => {
      const result = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--session', 'ctx', ...args]);
      assert.equal(result.code, 0, result.stderr);
      return result;
    };
    const doneLine = (stdout: string) => parseRunEvent(stdout.trim().split('\n').at(-1)!) as DoneEvent;
    const first = doneLine((await done('--format', 'json', '/demo usage=0.01\nalpha')).stdout);
    assert.deepEqual([first.contextUsed, first.contextSize, first.costUsd], [5000, 200_000, 0.01]);
    // A new process resumes the session: the context grows on the agent's figures, the cost is this turn's only.
    const second = doneLine((await done('--format', 'json', '/demo usage=0.01\nbeta')).stdout);
    assert.deepEqual([second.contextUsed, second.contextSize, second.costUsd], [10_000, 200_000, 0.01]);
    const text = await done('/demo usage=0.01\n/demo recall');
    assert.match(text.stderr, /^end_turn · agent demo-\d+ \(demo\) · \d+\.\d\d s · \$0\.0100 · context 15k\/200k \(7\.5%\)$/m);
    const plain = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--format', 'json', 'no usage reported']);
    assert.deepEqual([doneLine(plain.stdout).contextUsed, doneLine(plain.stdout).contextSize], [null, null], 'null when the agent reports none');
  });
});
