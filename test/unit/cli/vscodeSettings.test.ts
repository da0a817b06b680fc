import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVscodeSettings, stripJsonComments, vscodeSettingsFiles } from '../../../src/cli/vscodeSettings';
import { assertBuilt, CLI } from './cliProcess';

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("the CLI reads VS Code's settings.json for the settings it shares with the windows", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ap-vscode-settings-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads JSON with comments and trailing commas, keeps strings whole, and ignores a bad value by name', () => {
    const file = join(dir, 'settings.json');
    writeFileSync(
      file,
      `{
        // the user's cap
        "agentPool.maxAgentsTotal": 3, /* block */
        "agentPool.registryDirectory": "/tmp/a//b,}",
        "agentPool.heartbeatIntervalMs": "fast",
        "editor.fontSize": 14,
      }`,
    );
    const read = readVscodeSettings([join(dir, 'missing.json'), file]);
    assert.deepEqual(read.values, { maxAgentsTotal: 3, registryDirectory: '/tmp/a//b,}' });
    assert.deepEqual(read.files, [file]);
    assert.equal(read.warnings.length, 1);
    assert.match(read.warnings[0]!, /settings\.json: .*agentPool\.heartbeatIntervalMs.*"fast".*using the default instead/);
    assert.equal(JSON.parse(stripJsonComments('{"a": [1, 2,], }')).a.length, 2);
    assert.deepEqual(vscodeSettingsFiles({ AGENT_POOL_VSCODE_SETTINGS: 'none' }), []);
    assert.ok(vscodeSettingsFiles({}, 'linux', '/home/u').includes('/home/u/.config/Code/User/settings.json'));
  });

  it('run declares the cap from settings.json (and its registry directory); --max-agents-total wins', async () => {
    assertBuilt();
    const registry = join(dir, 'registry');
    const file = join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify({ 'agentPool.maxAgentsTotal': 3, 'agentPool.registryDirectory': registry }));
    const env = { AGENT_POOL_VSCODE_SETTINGS: file };
    const fromFile = await runCli(['run', '--profile', 'demo', '--verbose', 'hi'], env);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stderr, /agent cap 3 \(this run's own\)/);
    assert.ok(existsSync(join(registry, 'instances')), 'the run registered in the directory settings.json names');
    const flag = await runCli(['run', '--profile', 'demo', '--verbose', '--max-agents-total', '5', 'hi'], env);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stderr, /agent cap 5 \(this run's own\)/);
  });
});
