import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';

export const EXTENSION_ID = 'agent-pool.agent-pool';

export async function activeExtension(): Promise<ExtensionExports> {
  const extension = vscode.extensions.getExtension<ExtensionExports>(EXTENSION_ID);
  if (!extension) throw new Error(`${EXTENSION_ID} is not installed in the host`);
  return extension.activate();
}

/**
 * Resolves once `condition` holds. It is checked whenever the extension reports a change and, since
 * the UI renders a little after that (debounced), on a short tick too; rejects with `what` on timeout.
 */
export function waitUntil(api: ExtensionExports, condition: () => boolean, what: string, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      let ok = false;
      try {
        ok = condition();
      } catch {
        ok = false;
      }
      if (!ok) return;
      finish();
      resolve(Date.now() - started);
    };
    const subscription = api.onDidChange(check);
    const tick = setInterval(check, 50);
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const finish = () => {
      subscription.dispose();
      clearInterval(tick);
      clearTimeout(timer);
    };
    check();
  });
}

export interface SecondWindow {
  id: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts another "window": a separate Node process running the core against the same registry directory. */
export function startSecondWindow(directory: string, agents: number, extensionPath: string): Promise<SecondWindow> {
  const script = join(__dirname, 'processes', 'secondWindow.js');
  const child = spawn(process.execPath, [script, directory, String(agents), join(extensionPath, 'dist')], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      const id = JSON.parse(line).ready as string;
      resolve({
        id,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`second window exited with ${code} before it was ready:\n${stderr}`)));
  });
}

/** A figure for the test output (the remote host's console does not reach the launcher). */
export function report(line: string): void {
  const logFile = process.env.AGENT_POOL_TEST_LOG;
  if (logFile) appendFileSync(logFile, `      ${line}\n`);
  else console.log(`      ${line}`);
}
