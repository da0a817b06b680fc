import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { ProfileError, builtinProfiles, resolveProfiles, validateProfile } from '../../../src/core/agents/profiles';
import { behaviourFromEnvironment, parsePrompt, splitIntoChunks } from '../../../src/demo-agent/directives';
import { classifyAgentFailure } from '../../../src/core/agents/agentError';

function profileError(action: () => unknown): ProfileError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ProfileError, `expected a ProfileError, got ${String(error)}`);
    return error;
  }
  throw new Error('expected a ProfileError');
}

describe('agent profiles', () => {
  it('ships the built-in profiles, demo first, with no shell-style commands', () => {
    const profiles = builtinProfiles('/opt/ext/dist');
    assert.deepEqual(Object.keys(profiles), ['demo', 'claude', 'codex', 'gemini', 'opencode', 'claude-stream-json', 'codex-exec', 'gemini-oneshot', 'claude-oneshot', 'aider']);
    assert.equal(profiles.demo!.command, process.execPath);
    assert.deepEqual(profiles.demo!.args, [path.join('/opt/ext/dist', 'demo-agent.js')]);
    assert.equal(profiles.demo!.env.ELECTRON_RUN_AS_NODE, '1');
    assert.deepEqual([profiles.gemini!.command, ...profiles.gemini!.args], ['gemini', '--acp']);
    assert.deepEqual([profiles.opencode!.command, ...profiles.opencode!.args], ['opencode', 'acp']);
    assert.equal(profiles['codex-exec']!.dialect, 'codex-exec');
    for (const profile of Object.values(profiles)) assert.doesNotMatch(profile.command, /\s/);
  });

  it('validates a user profile and fills the defaults', () => {
    const profile = validateProfile('mine', { adapter: 'acp', command: 'my-agent', args: ['--acp'] });
    assert.deepEqual(profile, { name: 'mine', adapter: 'acp', command: 'my-agent', args: ['--acp'], env: {}, permissionPolicy: 'ask', handshakeTimeoutMs: 30000 });
    assert.equal(validateProfile('cx', { adapter: 'json-lines', command: '/usr/local/bin/codex', args: ['exec', '--json', '{prompt}'] }).dialect, 'codex-exec');
  });

  const bad: Array<[string, unknown, string, RegExp]> = [
    ['unknown key', { adapter: 'acp', command: 'x', shell: true }, 'agentPool.profiles.p.shell', /not a profile setting \(value true\)/],
    ['bad adapter', { adapter: 'tmux', command: 'x' }, 'agentPool.profiles.p.adapter', /"tmux".*acp, claude-stream-json, json-lines, plain/],
    ['missing command', { adapter: 'acp' }, 'agentPool.profiles.p.command', /undefined/],
    ['command with arguments', { adapter: 'acp', command: 'gemini --acp' }, 'agentPool.profiles.p.command', /without a shell.*agentPool\.profiles\.p\.args/],
    ['args not strings', { adapter: 'acp', command: 'x', args: [1] }, 'agentPool.profiles.p.args', /\[1\]/],
    ['env not strings', { adapter: 'acp', command: 'x', env: { A: 1 } }, 'agentPool.profiles.p.env', /\{"A":1\}/],
    ['bad policy', { adapter: 'acp', command: 'x', permissionPolicy: 'yolo' }, 'agentPool.profiles.p.permissionPolicy', /"yolo"/],
    ['timeout too small', { adapter: 'acp', command: 'x', handshakeTimeoutMs: 10 }, 'agentPool.profiles.p.handshakeTimeoutMs', /10; use a whole number.*500 to 300000/],
    ['json-lines without dialect', { adapter: 'json-lines', command: 'my-tool' }, 'agentPool.profiles.p.dialect', /needed/],
    ['not an object', 'acp', 'agentPool.profiles.p', /must be an object/],
  ];
  for (const [what, raw, setting, message] of bad) {
    it(`rejects ${what}, naming ${setting} and the value`, () => {
      const error = profileError(() => validateProfile('p', raw));
      assert.equal(error.setting, setting);
      assert.ok(error.message.startsWith(setting), error.message);
      assert.match(error.message, message);
    });
  }

  it('merges user profiles over the built-ins', () => {
    const profiles = resolveProfiles({ claude: { adapter: 'acp', command: '/opt/claude-agent-acp' }, extra: { adapter: 'plain', command: 'aider' } }, '/d');
    assert.equal(profiles.claude!.command, '/opt/claude-agent-acp');
    assert.equal(profiles.extra!.adapter, 'plain');
    assert.equal(profiles.demo!.args[0], path.join('/d', 'demo-agent.js'));
    assert.equal(profileError(() => resolveProfiles([], '/d')).setting, 'agentPool.profiles');
  });
});

describe('agent error classification', () => {
  const cases: Array<[string, number | undefined, string]> = [
    ['Authentication required', -32000, 'AGENT_AUTH_REQUIRED'],
    ['Gemini API key is missing or not configured.', -32000, 'AGENT_AUTH_REQUIRED'],
    ['Invalid API key · Please run /login', undefined, 'AGENT_AUTH_REQUIRED'],
    ['exceeded retry limit, last status: 429 Too Many Requests', undefined, 'AGENT_RATE_LIMITED'],
    ['Rate limit exceeded', -32000, 'AGENT_RATE_LIMITED'],
    ['Internal error', -32603, 'AGENT_REQUEST_FAILED'],
  ];
  for (const [message, code, expected] of cases) {
    it(`${JSON.stringify(message)} -> ${expected}`, () => assert.equal(classifyAgentFailure(message, code), expected));
  }
});

describe('demo agent directives', () => {
  const defaults = behaviourFromEnvironment({});

  it('defaults to the zero-latency echo', () => {
    assert.deepEqual(parsePrompt('hello', defaults), { behaviour: defaults, text: 'hello' });
    assert.equal(defaults.latency, 0);
    assert.equal(defaults.chunks, 1);
  });

  it('parses the directive line and strips it from the echo', () => {
    const { behaviour, text } = parsePrompt('/demo latency=200 chunks=5 hang permission=read memory=8 error=auth crash=2 exitcode=4 thought\nbody', defaults);
    assert.equal(text, 'body');
    assert.deepEqual(
      { ...behaviour },
      { latency: 200, chunks: 5, hang: true, crashAfterChunks: 2, exitCode: 4, permission: 'read', memoryMb: 8, error: 'auth', thought: true, tool: false, planEntries: 0, stopReason: 'end_turn', recall: false, usageCostUsd: undefined, spinThreads: 0 },
    );
    assert.equal(parsePrompt('/demo spin', defaults).behaviour.spinThreads, 1);
    assert.equal(parsePrompt('/demo spin=3', defaults).behaviour.spinThreads, 3);
    const sessions = parsePrompt('/demo recall usage=0.25', defaults).behaviour;
    assert.deepEqual([sessions.recall, sessions.usageCostUsd], [true, 0.25]);
    assert.equal(parsePrompt('/demo usage', defaults).behaviour.usageCostUsd, 0.01);
    assert.throws(() => parsePrompt('/demo usage=-3', defaults), /usage=-3: expected a cost in USD >= 0/);
    assert.equal(parsePrompt('/demonstrate this', defaults).text, '/demonstrate this');
    const planned = parsePrompt('/demo plan stop=refusal\nx', defaults).behaviour;
    assert.equal(planned.planEntries, 3);
    assert.equal(planned.stopReason, 'refusal');
    assert.equal(parsePrompt('/demo plan=5\nx', defaults).behaviour.planEntries, 5);
    assert.throws(() => parsePrompt('/demo stop=later\nx', defaults), /stop=later: expected end_turn, refusal/);
  });

  it('takes defaults from DEMO_AGENT_* variables and rejects unknown directives', () => {
    const fromEnv = behaviourFromEnvironment({ DEMO_AGENT_LATENCY: '50', DEMO_AGENT_HANG: '0', DEMO_AGENT_ERROR: 'rate-limit' });
    assert.equal(fromEnv.latency, 50);
    assert.equal(fromEnv.hang, false);
    assert.equal(fromEnv.error, 'rate-limit');
    assert.throws(() => parsePrompt('/demo speed=9\n', defaults), /unknown demo directive "speed"/);
    assert.throws(() => parsePrompt('/demo latency=-1\n', defaults), /latency=-1/);
  });

  it('splits text into the asked number of chunks', () => {
    assert.deepEqual(splitIntoChunks('abcdef', 3), ['ab', 'cd', 'ef']);
    assert.deepEqual(splitIntoChunks('abc', 1), ['abc']);
  });
});
