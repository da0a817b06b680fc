import type { SurfaceAdvice } from '../../common/errors';
import type { AgentProfile } from '../adapter';

/**
 * Sign-in through ACP `authenticate`. An agent lists `authMethods` in `initialize`; some (codex-acp)
 * accept a key from the environment only after the client calls `authenticate` with that method's
 * id. Which method: the profile's `authMethod` if given, else an `env_var` method whose variable is
 * set (in the profile's env or the environment). Terminal methods are never sent to `authenticate`
 * (the spec forbids it): the person runs the agent's login command once, which we name.
 */
export type AuthMethodKind = 'env_var' | 'terminal' | 'agent';

export interface OfferedAuthMethod {
  id: string;
  name: string;
  description?: string;
  kind: AuthMethodKind;
  /** env_var methods: the variables the agent reads. */
  variables: string[];
  /** terminal methods: arguments added to the agent's own command line for the login. */
  args: string[];
  /** terminal methods: variables set for the login. */
  env: Record<string, string>;
}

/** What the agent's `initialize` said, read defensively: unknown kinds are treated as `agent` (the spec's default). */
export function readAuthMethods(raw: unknown): OfferedAuthMethod[] {
  if (!Array.isArray(raw)) return [];
  const methods: OfferedAuthMethod[] = [];
  for (const entry of raw) {
    if (!entry || typeof entry !== 'object') continue;
    const method = entry as Record<string, unknown>;
    if (typeof method.id !== 'string' || method.id === '') continue;
    const kind: AuthMethodKind = method.type === 'env_var' || method.type === 'terminal' ? method.type : 'agent';
    const variables = Array.isArray(method.vars)
      ? method.vars.map((v) => (v && typeof v === 'object' ? (v as { name?: unknown }).name : v)).filter((name): name is string => typeof name === 'string' && name !== '')
      : typeof method.varName === 'string'
        ? [method.varName]
        : [];
    methods.push({
      id: method.id,
      name: typeof method.name === 'string' ? method.name : method.id,
      ...(typeof method.description === 'string' ? { description: method.description } : {}),
      kind,
      variables,
      args: Array.isArray(method.args) ? method.args.filter((arg): arg is string => typeof arg === 'string') : [],
      env: method.env && typeof method.env === 'object' ? Object.fromEntries(Object.entries(method.env).filter((pair): pair is [string, string] => typeof pair[1] === 'string')) : {},
    });
  }
  return methods;
}

export type SignInChoice =
  /** Call `authenticate` with this method before `session/new`. */
  | { action: 'authenticate'; method: OfferedAuthMethod; why: string }
  /** No call: the agent offers nothing, the chosen method is a terminal login, or nothing fits (it may still work). */
  | { action: 'none'; why: string }
  /** The profile names a method the agent does not offer: a configuration error. */
  | { action: 'unknown-method'; requested: string };

export function chooseSignIn(methods: readonly OfferedAuthMethod[], profile: Pick<AgentProfile, 'authMethod' | 'env'>, environment: NodeJS.ProcessEnv): SignInChoice {
  if (profile.authMethod !== undefined) {
    const method = methods.find((m) => m.id === profile.authMethod);
    if (!method) return { action: 'unknown-method', requested: profile.authMethod };
    if (method.kind === 'terminal') return { action: 'none', why: `method "${method.id}" is a terminal login, done outside the pool` };
    return { action: 'authenticate', method, why: 'the profile\'s authMethod' };
  }
  for (const method of methods) {
    if (method.kind !== 'env_var' || method.variables.length === 0) continue;
    const set = method.variables.every((name) => isSet(profile.env[name]) || isSet(environment[name]));
    if (set) return { action: 'authenticate', method, why: `${method.variables.join(', ')} ${method.variables.length > 1 ? 'are' : 'is'} set` };
  }
  return { action: 'none', why: methods.length === 0 ? 'the agent lists no sign-in methods' : 'no sign-in method fits: none chosen, no key variable set' };
}

function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== '';
}

/**
 * How to use each method the agent offers, for an auth failure: a variable to set, a command to
 * run in a terminal, or the profile's `authMethod` to name. Written for each surface.
 */
export function signInAdvice(methods: readonly OfferedAuthMethod[], profile: Pick<AgentProfile, 'name' | 'command' | 'args'>): SurfaceAdvice {
  const name = profile.name;
  const settingsEnv = `agentPool.profiles.${name}.env`;
  const cliEnv = `in the environment of this command, or in the "env" of profile "${name}" in a --profiles FILE`;
  if (methods.length === 0) {
    return {
      vscode: `Sign in to the agent, or set its API key in ${settingsEnv} (or the environment VS Code starts with); then start the pool again.`,
      cli: `Sign in to the agent, or set its API key ${cliEnv}.`,
    };
  }
  const vscode: string[] = [];
  const cli: string[] = [];
  for (const method of methods) {
    const label = `"${method.name}" (${method.id})`;
    switch (method.kind) {
      case 'env_var': {
        const vars = method.variables.join(' and ') || 'its key variable';
        vscode.push(`${label}: set ${vars} in ${settingsEnv}`);
        cli.push(`${label}: set ${vars} ${cliEnv}`);
        break;
      }
      case 'terminal': {
        const command = terminalLoginCommand(method, profile);
        vscode.push(`${label}: run \`${command}\` in a terminal`);
        cli.push(`${label}: run \`${command}\``);
        break;
      }
      case 'agent':
        vscode.push(`${label}: set agentPool.profiles.${name}.authMethod to "${method.id}"`);
        cli.push(`${label}: add "authMethod": "${method.id}" to profile "${name}" in a --profiles FILE`);
        break;
    }
  }
  return {
    vscode: `The agent offers these ways to sign in: ${vscode.join('; ')}. Then start the pool again.`,
    cli: `The agent offers these ways to sign in: ${cli.join('; ')}. Then run again.`,
  };
}

/** The agent's own command line plus the method's arguments: what a person runs once to log in. */
export function terminalLoginCommand(method: OfferedAuthMethod, profile: Pick<AgentProfile, 'command' | 'args'>): string {
  const env = Object.entries(method.env).map(([key, value]) => `${key}=${shellWord(value)}`);
  return [...env, ...[profile.command, ...profile.args, ...method.args].map(shellWord)].join(' ');
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
