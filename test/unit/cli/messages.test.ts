import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, assertBuilt, type CliResult } from './cliProcess';

/** One message, once, with the agent's own detail and the CLI's advice: the built binary and the real demo agent. */
describe('agent-pool run: failure messages (built binary, real demo agent)', function () {
  this.timeout(60_000);
  let dir: string;
  const KEY = 'sk-demo-0123456789abcdef';

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-messages-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, '--dir', dir, 'run', ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
  }

  /** A profile of the demo agent that lists sign-in methods and needs `authenticate`, like codex-acp. */
  function signInProfiles(env: Record<string, string> = {}): string {
    const file = join(dir, 'profiles.json');
    const demo = join(__dirname, '..', '..', '..', 'dist', 'demo-agent.js');
    writeFileSync(file, JSON.stringify({ 'demo-signin': { adapter: 'acp', command: process.execPath, args: [demo], env: { DEMO_AGENT_AUTH: 'required', ...env } } }));
    return file;
  }

  function assertToldOnce(stderr: string): void {
    assert.equal(stderr.split('Agent profile').length, 2, `the profile is named more than once:\n${stderr}`);
    assert.doesNotMatch(stderr, /\.\./, 'a sentence ends in ".."');
    assert.doesNotMatch(stderr, /agentPool\.profiles|restart the pool/, 'VS Code advice on the command line');
  }

  it('an auth failure at session/new (gemini without a key): once, exit 1, with advice for the CLI', async () => {
    const result = await run(['--profile', 'demo', 'hi'], { DEMO_AGENT_SESSION_ERROR: 'auth' });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^agent-pool: Agent profile "demo" could not start \(command "[^"]+"\): answered session\/new with error -32000: Authentication required\. /);
    assert.match(result.stderr, /Sign in to the agent, or set its API key in the environment of this command, or in the "env" of profile "demo" in a --profiles FILE\.$/m);
    assertToldOnce(result.stderr);
  });

  it('a -32603 Internal error shows the agent\'s data (claude-agent-acp under IS_SANDBOX=yes)', async () => {
    const result = await run(['--profile', 'demo', 'hi'], { DEMO_AGENT_SESSION_ERROR: 'internal' });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /answered session\/new with error -32603: Internal error \(Query closed before response received\)\./);
    assertToldOnce(result.stderr);
  });

  it('signs in through authenticate when the key variable is set, and the answer comes', async () => {
    const result = await run(['--profile', 'demo-signin', '--profiles', signInProfiles(), 'signed in'], { DEMO_API_KEY: KEY });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'signed in\n');
  });

  it('with no key: every sign-in method and how to use it on the command line, once', async () => {
    const result = await run(['--profile', 'demo-signin', '--profiles', signInProfiles(), 'hi'], { DEMO_API_KEY: '' });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /"Use DEMO_API_KEY" \(demo-api-key\): set DEMO_API_KEY in the environment of this command, or in the "env" of profile "demo-signin" in a --profiles FILE/);
    assert.match(result.stderr, /"Log in with Demo" \(demo-oauth\): add "authMethod": "demo-oauth" to profile "demo-signin" in a --profiles FILE/);
    assert.match(result.stderr, /"Log in to the demo" \(demo-login\): run `\S+ \S+demo-agent\.js --login`/);
    assertToldOnce(result.stderr);
  });

  it('a rejected key that the agent quotes back never reaches stderr, also with --verbose', async () => {
    const bad = `bad-${KEY}`;
    for (const verbose of [[], ['--verbose']]) {
      const result = await run(['--profile', 'demo-signin', '--profiles', signInProfiles({ DEMO_API_KEY: bad }), ...verbose, 'hi']);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /answered authenticate with error -32000: Authentication required \(the key \*\*\* was rejected\)/);
      assert.ok(!result.stderr.includes(KEY), `the key leaked:\n${result.stderr}`);
    }
  });

  it('an agent that stays silent fails at the first-event deadline: exit 3, the likely causes, the flag to raise it', async () => {
    const started = Date.now();
    const result = await run(['--profile', 'demo', '--first-event-timeout', '1s', '/demo hang\nnever answered']);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /Agent "demo" sent nothing within 1 s of the prompt \(first-event deadline\).*Likely causes: no network .*sign-in .*rate limit\. /);
    assert.match(result.stderr, /--first-event-timeout/);
    assert.doesNotMatch(result.stderr, /waiting for/, 'the waiting line is for terminals only');
    assert.ok(Date.now() - started < 15_000, 'the deadline, not the idle watchdog, ended the turn');
  });
});
