import * as path from 'node:path';
import { resolveDistFile } from '../process/spawn';
import type { AdapterKind, AgentProfile, PermissionPolicy } from './adapter';
import { AgentPoolError } from '../common/errors';

/**
 * Built-in agent profiles and validation of the user's `agentPool.profiles` setting. Every
 * command runs without a shell; `{prompt}` in a one-shot profile's args becomes the prompt.
 */
export const ADAPTER_KINDS: readonly AdapterKind[] = ['acp', 'claude-stream-json', 'json-lines', 'plain'];
export const PERMISSION_POLICIES: readonly PermissionPolicy[] = ['ask', 'allowReadOnly', 'allowAll', 'reject'];
export const JSON_LINES_DIALECTS = ['codex-exec', 'gemini', 'claude-print'] as const;
export type JsonLinesDialect = (typeof JSON_LINES_DIALECTS)[number];

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
const HANDSHAKE_TIMEOUT_RANGE = { min: 500, max: 300_000 };
const PROFILE_KEYS = ['adapter', 'command', 'args', 'env', 'permissionPolicy', 'handshakeTimeoutMs', 'dialect', 'authMethod'] as const;
const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const PROMPT_PLACEHOLDER = '{prompt}';

export class ProfileError extends AgentPoolError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super('PROFILE_INVALID', message);
    this.name = 'ProfileError';
  }
}

function builtin(name: string, adapter: AdapterKind, command: string, args: string[], extra: Partial<AgentProfile> = {}): AgentProfile {
  return { name, adapter, command, args, env: {}, permissionPolicy: 'ask', handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS, ...extra };
}

/**
 * The profiles that ship. `demo` runs this extension's own demo agent with the editor's node
 * (process.execPath, told to act as node), so it works on a fresh machine with nothing installed.
 */
export function builtinProfiles(distDirectory?: string): Record<string, AgentProfile> {
  const demoScript = distDirectory ? path.join(distDirectory, 'demo-agent.js') : resolveDistFile('demo-agent.js');
  return {
    demo: builtin('demo', 'acp', process.execPath, [demoScript], { env: { ELECTRON_RUN_AS_NODE: '1' }, handshakeTimeoutMs: 10_000 }),
    claude: builtin('claude', 'acp', 'claude-agent-acp', []),
    codex: builtin('codex', 'acp', 'codex-acp', []),
    gemini: builtin('gemini', 'acp', 'gemini', ['--acp'], { handshakeTimeoutMs: 60_000 }),
    opencode: builtin('opencode', 'acp', 'opencode', ['acp']),
    'claude-stream-json': builtin('claude-stream-json', 'claude-stream-json', 'claude', [
      '-p',
      '--input-format',
      'stream-json',
      '--output-format',
      'stream-json',
      '--verbose',
      '--permission-prompt-tool',
      'stdio',
    ]),
    'codex-exec': builtin('codex-exec', 'json-lines', 'codex', ['exec', '--json', PROMPT_PLACEHOLDER], { dialect: 'codex-exec' }),
    'gemini-oneshot': builtin('gemini-oneshot', 'json-lines', 'gemini', ['-p', PROMPT_PLACEHOLDER, '-o', 'stream-json'], { dialect: 'gemini' }),
    'claude-oneshot': builtin('claude-oneshot', 'json-lines', 'claude', ['-p', PROMPT_PLACEHOLDER, '--output-format', 'stream-json', '--verbose'], {
      dialect: 'claude-print',
    }),
    aider: builtin('aider', 'plain', 'aider', ['--message', PROMPT_PLACEHOLDER, '--yes-always', '--no-stream']),
  };
}

/** json-lines profiles without a `dialect` get the one their program speaks. */
export function inferDialect(command: string): JsonLinesDialect | undefined {
  const base = path.basename(command).replace(/\.(exe|cmd|bat)$/i, '');
  if (base === 'codex') return 'codex-exec';
  if (base === 'gemini') return 'gemini';
  if (base === 'claude') return 'claude-print';
  return undefined;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Validates one entry of agentPool.profiles: unknown keys are rejected, and every error names
 * `agentPool.profiles.<name>.<key>` and the bad value.
 */
export function validateProfile(name: string, raw: unknown): AgentProfile {
  const at = (key?: string) => `agentPool.profiles.${name}${key ? `.${key}` : ''}`;
  if (!PROFILE_NAME_PATTERN.test(name)) {
    throw new ProfileError(at(), `${at()}: the profile name ${describe(name)} must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ProfileError(at(), `${at()} must be an object like {"adapter": "acp", "command": "my-agent"}, not ${describe(raw)}.`);
  }
  const entry = raw as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!(PROFILE_KEYS as readonly string[]).includes(key)) {
      throw new ProfileError(at(key), `${at(key)} is not a profile setting (value ${describe(entry[key])}). Known keys: ${PROFILE_KEYS.join(', ')}.`);
    }
  }
  const adapter = entry.adapter;
  if (typeof adapter !== 'string' || !(ADAPTER_KINDS as readonly string[]).includes(adapter)) {
    throw new ProfileError(at('adapter'), `${at('adapter')} is ${describe(adapter)}; use one of ${ADAPTER_KINDS.join(', ')}.`);
  }
  const command = entry.command;
  if (typeof command !== 'string' || command.trim() === '') {
    throw new ProfileError(at('command'), `${at('command')} is ${describe(command)}; give the program to run (a name on PATH or an absolute path).`);
  }
  if (/[\s;&|`$<>]/.test(command) && !path.isAbsolute(command)) {
    throw new ProfileError(
      at('command'),
      `${at('command')} is ${describe(command)}: it runs without a shell, so put only the program here and each argument in ${at('args')}.`,
    );
  }
  const args = entry.args ?? [];
  if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) {
    throw new ProfileError(at('args'), `${at('args')} is ${describe(args)}; use a list of strings, e.g. ["--acp"].`);
  }
  const env = entry.env ?? {};
  if (typeof env !== 'object' || env === null || Array.isArray(env) || Object.values(env).some((value) => typeof value !== 'string')) {
    throw new ProfileError(at('env'), `${at('env')} is ${describe(env)}; use an object of string values, e.g. {"API_KEY": "..."}.`);
  }
  const permissionPolicy = entry.permissionPolicy ?? 'ask';
  if (typeof permissionPolicy !== 'string' || !(PERMISSION_POLICIES as readonly string[]).includes(permissionPolicy)) {
    throw new ProfileError(at('permissionPolicy'), `${at('permissionPolicy')} is ${describe(permissionPolicy)}; use one of ${PERMISSION_POLICIES.join(', ')}.`);
  }
  const handshakeTimeoutMs = entry.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (
    typeof handshakeTimeoutMs !== 'number' ||
    !Number.isInteger(handshakeTimeoutMs) ||
    handshakeTimeoutMs < HANDSHAKE_TIMEOUT_RANGE.min ||
    handshakeTimeoutMs > HANDSHAKE_TIMEOUT_RANGE.max
  ) {
    throw new ProfileError(
      at('handshakeTimeoutMs'),
      `${at('handshakeTimeoutMs')} is ${describe(handshakeTimeoutMs)}; use a whole number of milliseconds from ${HANDSHAKE_TIMEOUT_RANGE.min} to ${HANDSHAKE_TIMEOUT_RANGE.max}.`,
    );
  }
  let dialect = entry.dialect;
  if (dialect !== undefined && (typeof dialect !== 'string' || !(JSON_LINES_DIALECTS as readonly string[]).includes(dialect))) {
    throw new ProfileError(at('dialect'), `${at('dialect')} is ${describe(dialect)}; use one of ${JSON_LINES_DIALECTS.join(', ')}.`);
  }
  if (adapter === 'json-lines') {
    dialect ??= inferDialect(command);
    if (dialect === undefined) {
      throw new ProfileError(
        at('dialect'),
        `${at('dialect')} is needed: a json-lines profile must say which event format "${command}" prints (${JSON_LINES_DIALECTS.join(', ')}).`,
      );
    }
  }
  const authMethod = entry.authMethod;
  if (authMethod !== undefined && (typeof authMethod !== 'string' || authMethod.trim() === '')) {
    throw new ProfileError(at('authMethod'), `${at('authMethod')} is ${describe(authMethod)}; give the id of one of the sign-in methods the agent lists (e.g. "openai-api-key").`);
  }
  return {
    name,
    adapter: adapter as AdapterKind,
    command,
    args: [...(args as string[])],
    env: { ...(env as Record<string, string>) },
    permissionPolicy: permissionPolicy as PermissionPolicy,
    handshakeTimeoutMs,
    ...(dialect === undefined ? {} : { dialect: dialect as string }),
    ...(authMethod === undefined ? {} : { authMethod: authMethod as string }),
  };
}

/**
 * The built-in profiles merged with the user's (a user profile with a built-in's name replaces it,
 * e.g. to point `claude` at another install). Throws a ProfileError on the first invalid entry.
 */
export function resolveProfiles(userProfiles: unknown, distDirectory?: string): Record<string, AgentProfile> {
  const profiles = builtinProfiles(distDirectory);
  if (userProfiles === undefined || userProfiles === null) return profiles;
  if (typeof userProfiles !== 'object' || Array.isArray(userProfiles)) {
    throw new ProfileError('agentPool.profiles', `agentPool.profiles must be an object of profiles by name, not ${describe(userProfiles)}.`);
  }
  for (const [name, raw] of Object.entries(userProfiles)) profiles[name] = validateProfile(name, raw);
  return profiles;
}
