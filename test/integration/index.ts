/**
 * The integration test entry, loaded by the extension host under either launcher (`run(): Promise<void>`
 * is the @vscode/test-electron contract). Mocha's reporter output goes to the file named by
 * AGENT_POOL_TEST_LOG, because the remote extension host's console only reaches the workbench log.
 */
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const logFile = process.env.AGENT_POOL_TEST_LOG;
  if (logFile) {
    const write = (...args: unknown[]) => appendFileSync(logFile, format(...args) + '\n');
    Mocha.reporters.Base.consoleLog = write;
    console.log = write;
    console.error = write;
  }
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec' });
  // AGENT_POOL_TEST_GREP runs only matching tests, for quick iterations on one test.
  if (process.env.AGENT_POOL_TEST_GREP) mocha.grep(process.env.AGENT_POOL_TEST_GREP);
  for (const file of readdirSync(__dirname).filter((name) => name.endsWith('.test.js')).sort()) {
    mocha.addFile(join(__dirname, file));
  }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} integration test(s) failed`)) : resolve()));
  });
}
