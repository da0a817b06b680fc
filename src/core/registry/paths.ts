import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Where the registry lives when `agentPool.registryDirectory` is empty: the platform's per-user
 * state directory. Pure (environment, platform and home passed in) so every platform is testable here.
 */
export interface PlatformContext {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  homedir: string;
}

export const REGISTRY_DIRECTORY_NAME = 'agent-pool';

export function defaultRegistryDirectory(context: PlatformContext = currentPlatform()): string {
  const { platform, env, homedir } = context;
  if (platform === 'win32') {
    const localAppData = env.LOCALAPPDATA || path.win32.join(homedir, 'AppData', 'Local');
    return path.win32.join(localAppData, REGISTRY_DIRECTORY_NAME);
  }
  if (platform === 'darwin') {
    return path.posix.join(homedir, 'Library', 'Application Support', REGISTRY_DIRECTORY_NAME);
  }
  // XDG says a relative XDG_STATE_HOME is invalid and must be ignored.
  const stateHome = env.XDG_STATE_HOME && path.posix.isAbsolute(env.XDG_STATE_HOME)
    ? env.XDG_STATE_HOME
    : path.posix.join(homedir, '.local', 'state');
  return path.posix.join(stateHome, REGISTRY_DIRECTORY_NAME);
}

/** The setting's value when set (with `~` expanded), else the platform default. */
export function resolveRegistryDirectory(setting: string | undefined, context: PlatformContext = currentPlatform()): string {
  const trimmed = setting?.trim();
  if (!trimmed) return defaultRegistryDirectory(context);
  const pathApi = context.platform === 'win32' ? path.win32 : path.posix;
  if (trimmed === '~') return context.homedir;
  if (trimmed.startsWith('~/') || trimmed.startsWith('~\\')) return pathApi.join(context.homedir, trimmed.slice(2));
  return pathApi.resolve(trimmed);
}

/** The registry's own subdirectories; see the layout in ./types.ts. */
export function registryPaths(directory: string) {
  return {
    root: directory,
    instances: path.join(directory, 'instances'),
    slots: path.join(directory, 'slots'),
    /** Temp files are written here, then renamed or linked into place: never half a file in the others. */
    temp: path.join(directory, 'tmp'),
    /** proper-lockfile's lock directory for registration and explicit cleanup. */
    lock: path.join(directory, 'registry.lock'),
  };
}

export type RegistryPaths = ReturnType<typeof registryPaths>;

function currentPlatform(): PlatformContext {
  return { platform: process.platform, env: process.env, homedir: os.homedir() };
}
