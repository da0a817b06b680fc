// Where scripts/ensure-vscode-host.sh puts the offline VS Code host; one place so every launcher agrees.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const NODE24_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';

export function hostCacheDir() {
  return (
    process.env.AGENT_POOL_HOST_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'agent-pool-dev')
  );
}

export function node24Binary() {
  return join(hostCacheDir(), `node-${NODE24_VERSION}`, 'bin', 'node');
}

export function codeServerEntry() {
  return join(hostCacheDir(), `code-server-${CODE_SERVER_VERSION}`, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

export function chromiumBinary() {
  for (const candidate of [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function offlineHostInstalled() {
  return existsSync(node24Binary()) && existsSync(codeServerEntry()) && chromiumBinary() !== undefined;
}
