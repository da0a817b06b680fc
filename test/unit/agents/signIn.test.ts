import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import type { AcpAgent } from '../../../src/core/agents/acp/acpAgent';
import { chooseSignIn, readAuthMethods, signInAdvice } from '../../../src/core/agents/acp/signIn';
import { describeAgentData } from '../../../src/core/agents/agentError';
import { describeFor } from '../../../src/core/common/errors';
import { ConnectionTracker, demoProfile, rejectionOf, requireBuild } from './helpers';

/** What codex-acp 0.16.0 answers in `initialize` (measured), the shape the choice must read. */
const CODEX_AUTH_METHODS = [
  { id: 'chatgpt', name: 'Login with ChatGPT', description: 'Use your ChatGPT login with Codex CLI (requires a paid ChatGPT subscription)' },
  { type: 'env_var', id: 'codex-api-key', name: 'Use CODEX_API_KEY', description: 'Requires setting the `CODEX_API_KEY` environment variable.', vars: [{ name: 'CODEX_API_KEY' }] },
  { type: 'env_var', id: 'openai-api-key', name: 'Use OPENAI_API_KEY', description: 'Requires setting the `OPENAI_API_KEY` environment variable.', vars: [{ name: 'OPENAI_API_KEY' }] },
];
/** claude-agent-acp 0.23.1 when the client can do terminal logins. */
const CLAUDE_AUTH_METHODS = [{ description: 'Run `claude /login` in the terminal', name: 'Log in with Claude', id: 'claude-login', type: 'terminal', args: ['--cli'] }];

describe('sign-in choice (ACP authMethods)', () => {
  const codex = readAuthMethods(CODEX_AUTH_METHODS);

  it('picks the env_var method whose variable is set, in the profile env or the environment', () => {
    assert.deepEqual(chooseSignIn(codex, { env: {} }, { OPENAI_API_KEY: 'sk-x' }), { action: 'authenticate', method: codex[2], why: 'OPENAI_API_KEY is set' });
    const fromProfile = chooseSignIn(codex, { env: { CODEX_API_KEY: 'k' } }, {});
    assert.equal(fromProfile.action === 'authenticate' && fromProfile.method.id, 'codex-api-key');
    assert.equal(chooseSignIn(codex, { env: {} }, { OPENAI_API_KEY: '' }).action, 'none', 'an empty variable is not a key');
    assert.equal(chooseSignIn(codex, { env: {} }, {}).action, 'none');
  });

  it('the profile\'s authMethod wins; an unknown one is a configuration error; a terminal one is not sent', () => {
    const chosen = chooseSignIn(codex, { env: {}, authMethod: 'chatgpt' }, { OPENAI_API_KEY: 'sk-x' });
    assert.equal(chosen.action === 'authenticate' && chosen.method.id, 'chatgpt');
    assert.deepEqual(chooseSignIn(codex, { env: {}, authMethod: 'nope' }, {}), { action: 'unknown-method', requested: 'nope' });
    assert.equal(chooseSignIn(readAuthMethods(CLAUDE_AUTH_METHODS), { env: {}, authMethod: 'claude-login' }, {}).action, 'none');
  });

  it('advice names every method and how to use it, for each surface', () => {
    const advice = signInAdvice([...codex, ...readAuthMethods(CLAUDE_AUTH_METHODS)], { name: 'codex', command: 'codex-acp', args: [] });
    assert.match(advice.vscode, /"Use OPENAI_API_KEY" \(openai-api-key\): set OPENAI_API_KEY in agentPool\.profiles\.codex\.env/);
    assert.match(advice.vscode, /"Login with ChatGPT" \(chatgpt\): set agentPool\.profiles\.codex\.authMethod to "chatgpt"/);
    assert.match(advice.vscode, /run `codex-acp --cli` in a terminal/);
    assert.match(advice.cli, /set OPENAI_API_KEY in the environment of this command, or in the "env" of profile "codex" in a --profiles FILE/);
    assert.match(advice.cli, /add "authMethod": "chatgpt" to profile "codex" in a --profiles FILE/);
    assert.doesNotMatch(advice.cli, /agentPool\./, 'CLI advice points at what a CLI user has');
  });
});

describe('an agent error\'s data, as one line', () => {
  it('reads the shapes real agents send', () => {
    // claude-agent-acp 0.23.1, -32603 at session/new under IS_SANDBOX=yes
    assert.equal(describeAgentData({ details: 'Query closed before response received' }), 'Query closed before response received');
    // codex-acp 0.16.0, -32603 at session/prompt with a key but no network
    assert.equal(
      describeAgentData({ message: 'stream disconnected before completion', codex_error_info: 'other' }),
      'stream disconnected before completion; codex_error_info: other',
    );
    assert.equal(describeAgentData('plain text'), 'plain text');
    assert.equal(describeAgentData({ status: 429 }), '{"status":429}');
    assert.equal(describeAgentData(undefined), undefined);
    assert.ok(describeAgentData('x'.repeat(1000))!.length <= 400);
  });
});

describe('sign-in with the demo agent (real ACP authenticate)', function () {
  this.timeout(15_000);
  const tracker = new ConnectionTracker();
  before(requireBuild);
  afterEach(() => tracker.disposeAll());
  const KEY = 'demo-secret-key-0123456789';

  function demoAgent(env: Record<string, string>, authMethod?: string): AcpAgent {
    return tracker.create(demoProfile(authMethod ? { authMethod } : {}, { DEMO_AGENT_AUTH: 'required', ...env })) as AcpAgent;
  }

  it('calls authenticate with the env_var method when its variable is set, then opens a session', async () => {
    const logs: string[] = [];
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_AUTH: 'required', DEMO_API_KEY: KEY }), { log: (_level, message) => logs.push(message) }) as AcpAgent;
    await agent.start();
    assert.equal(agent.signedInWith, 'demo-api-key');
    assert.deepEqual(agent.authMethods.map((m) => `${m.kind}:${m.id}`), ['env_var:demo-api-key', 'agent:demo-oauth', 'terminal:demo-login']);
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    assert.equal((await agent.prompt({ sessionId, text: 'signed in' })).text, 'signed in');
    assert.ok(logs.some((line) => /signing in with method "demo-api-key" \(DEMO_API_KEY is set\)/.test(line)), logs.join('\n'));
    assert.ok(!logs.join('\n').includes(KEY), 'the key is in the log');
  });

  it('uses the profile\'s authMethod (an agent-side login)', async () => {
    const agent = demoAgent({}, 'demo-oauth');
    await agent.start();
    assert.equal(agent.signedInWith, 'demo-oauth');
    assert.ok(await agent.openSession({ cwd: os.tmpdir() }));
  });

  it('with no method that fits, session/new fails once with every method and how to use it', async () => {
    const agent = demoAgent({});
    await agent.start();
    assert.equal(agent.signedInWith, undefined);
    const error = await rejectionOf(agent.openSession({ cwd: os.tmpdir() }));
    assert.equal(error.code, 'AGENT_AUTH_REQUIRED');
    assert.match(error.message, /^Agent profile "demo" answered session\/new with error -32000: Authentication required \(call authenticate before session\/new\)\. /);
    assert.match(error.message, /"Use DEMO_API_KEY" \(demo-api-key\): set DEMO_API_KEY in agentPool\.profiles\.demo\.env/);
    assert.match(error.message, /\(demo-login\): run `\S+ \S+demo-agent\.js --login` in a terminal/);
    const cli = describeFor(error, 'cli');
    assert.match(cli, /\(demo-api-key\): set DEMO_API_KEY in the environment of this command/);
    assert.doesNotMatch(cli, /agentPool\.profiles/);
    assert.equal(error.message.split('Agent profile').length, 2, 'the profile is named once');
    assert.doesNotMatch(error.message, /\.\./);
  });

  it('an unknown authMethod fails the start with the methods on offer', async () => {
    const error = await rejectionOf(demoAgent({}, 'gitlab').start());
    assert.equal(error.code, 'AGENT_AUTH_REQUIRED');
    assert.match(error.message, /asks for sign-in method "gitlab", which the agent does not offer \(it offers "demo-api-key", "demo-oauth", "demo-login"\)/);
  });

  it('a rejected key never appears in the error, its detail or the log, even when the agent quotes it', async () => {
    const logs: string[] = [];
    const bad = `bad-${KEY}`;
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_AUTH: 'required', DEMO_API_KEY: bad }), { log: (_level, message) => logs.push(message) }) as AcpAgent;
    const error = await rejectionOf(agent.start());
    assert.equal(error.code, 'AGENT_AUTH_REQUIRED');
    assert.match(error.message, /answered authenticate with error -32000: Authentication required \(the key \*\*\* was rejected\)/);
    for (const text of [error.message, describeFor(error, 'cli'), (error as { agentDetail?: string }).agentDetail ?? '', logs.join('\n')]) {
      assert.ok(!text.includes(KEY), `the key leaked into: ${text}`);
    }
  });

  it('shows the detail of a -32603 Internal error (claude-agent-acp under IS_SANDBOX=yes)', async () => {
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_SESSION_ERROR: 'internal' }));
    await agent.start();
    const error = await rejectionOf(agent.openSession({ cwd: os.tmpdir() }));
    assert.equal(error.code, 'AGENT_REQUEST_FAILED');
    assert.equal(error.message, 'Agent profile "demo" answered session/new with error -32603: Internal error (Query closed before response received).');
  });
});
