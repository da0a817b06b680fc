import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorMessage } from '../core/common/errors';
import { readSettings } from '../core/config/settings';
import { SECTION } from '../core/config/settingsTable';

/**
 * The settings a command-line run shares with VS Code, read from VS Code's own settings files when
 * they can be found, so `agent-pool run` declares the same cap as the user's windows. Flags win.
 * Only machine-wide settings are read: a run has no workspace, and profiles come from --profiles.
 */
export const SHARED_WITH_VSCODE = [
  'maxAgentsTotal',
  'maxAgentsPerWindow',
  'registryDirectory',
  'heartbeatIntervalMs',
  'backend',
  'etcd.endpoints',
  'etcd.keyPrefix',
  'etcd.caFile',
  'etcd.certFile',
  'etcd.keyFile',
  'etcd.username',
  'etcd.leaseTtlSeconds',
] as const;

/** `AGENT_POOL_VSCODE_SETTINGS=<file>` reads that file instead; `none` reads nothing (tests, scripts). */
export const VSCODE_SETTINGS_ENV = 'AGENT_POOL_VSCODE_SETTINGS';

export interface VscodeSettings {
  /** Keys as under `agentPool.`, only valid values. */
  values: Record<string, unknown>;
  /** The files values came from, first one winning. */
  files: string[];
  /** One sentence per file or value that was ignored, naming it. */
  warnings: string[];
}

/** VS Code's settings files on this machine, most specific first: a remote's machine settings, then the user's. */
export function vscodeSettingsFiles(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string[] {
  const override = env[VSCODE_SETTINGS_ENV];
  if (override !== undefined && override !== '') return override === 'none' ? [] : [override];
  const userRoot =
    platform === 'win32' ? (env.APPDATA ?? path.join(home, 'AppData', 'Roaming'))
    : platform === 'darwin' ? path.join(home, 'Library', 'Application Support')
    : (env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config'));
  return [
    path.join(home, '.vscode-server', 'data', 'Machine', 'settings.json'),
    ...['Code', 'Code - Insiders', 'VSCodium'].map((product) => path.join(userRoot, product, 'User', 'settings.json')),
  ];
}

export function readVscodeSettings(files: string[] = vscodeSettingsFiles()): VscodeSettings {
  const result: VscodeSettings = { values: {}, files: [], warnings: [] };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(stripJsonComments(text));
    } catch (error) {
      result.warnings.push(`${file} is not valid JSON with comments (${errorMessage(error)}); its settings are ignored`);
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
    const found: Record<string, unknown> = {};
    for (const key of SHARED_WITH_VSCODE) {
      const value = (parsed as Record<string, unknown>)[`${SECTION}.${key}`];
      if (value !== undefined && !(key in result.values)) found[key] = value;
    }
    if (Object.keys(found).length === 0) continue;
    // The same checks as in VS Code; a bad value is left out (the default applies) and said once.
    const { problems } = readSettings((key) => found[key]);
    for (const key of Object.keys(found)) {
      const problem = problems.find((line) => line.includes(`${SECTION}.${key}`));
      if (problem) {
        result.warnings.push(`${file}: ${problem}; using the default instead`);
        continue;
      }
      result.values[key] = found[key];
    }
    result.files.push(file);
  }
  return result;
}

/** JSON with comments and trailing commas (VS Code's settings format) to plain JSON; strings are kept as they are. */
export function stripJsonComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
    } else if (char === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (char === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2);
      if (i < 0) break;
      i++;
    } else if (char === '}' || char === ']') {
      // A trailing comma before the closing bracket (outside strings) is allowed in settings files.
      out = out.replace(/,(\s*)$/, '$1') + char;
    } else out += char;
  }
  return out;
}
