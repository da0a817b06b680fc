import * as vscode from 'vscode';
import type { CoordinationBackend } from '../core/backend/backend';
import { deferredBackend } from '../core/backend/deferredBackend';
import { openBackend } from '../core/backend/openBackend';
import type { Settings } from '../core/config/settings';
import { resolveRegistryDirectory } from '../core/directory/layout';

/** Where the etcd password lives: VS Code's SecretStorage, never a setting. */
export const ETCD_PASSWORD_SECRET = 'agentPool.etcd.password';

/** The etcd backend when agentPool.backend says so (opened in the background), else undefined: the file backend. */
export function etcdBackendFor(settings: Settings, secrets: vscode.SecretStorage, log: (level: 'info' | 'warn' | 'error', message: string) => void): CoordinationBackend | undefined {
  if (settings.backend !== 'etcd') return undefined;
  const directory = resolveRegistryDirectory(settings.registryDirectory || undefined);
  const opening = Promise.resolve(secrets.get(ETCD_PASSWORD_SECRET)).then((password) =>
    openBackend(settings, {
      directory,
      password,
      log: { info: (m) => log('info', `etcd: ${m}`), warn: (m) => log('warn', `etcd: ${m}`), error: (m) => log('error', `etcd: ${m}`) },
    }),
  );
  opening.catch((error: unknown) => void vscode.window.showErrorMessage(`Agent Pool: ${error instanceof Error ? error.message : String(error)} No agent starts until it is fixed.`));
  return deferredBackend(opening, { kind: 'etcd', directory, describe: `etcd ${settings.etcdEndpoints}` });
}

export function registerEtcdPasswordCommand(secrets: vscode.SecretStorage): vscode.Disposable {
  return vscode.commands.registerCommand('agentPool.setEtcdPassword', async () => {
    const value = await vscode.window.showInputBox({
      password: true,
      ignoreFocusOut: true,
      prompt: 'The etcd password of agentPool.etcd.username, kept in VS Code\'s secret storage (empty removes it). Used after a window reload.',
    });
    if (value === undefined) return;
    if (value === '') await secrets.delete(ETCD_PASSWORD_SECRET);
    else await secrets.store(ETCD_PASSWORD_SECRET, value);
    void vscode.window.showInformationMessage(`Agent Pool: etcd password ${value === '' ? 'removed' : 'saved'}; reload the window to use it.`);
  });
}
