import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import { activeExtension, waitUntil } from './helpers';

/**
 * Issue 13 in the real host: the registry directory fills with files that hang, crash or flood a
 * naive reader (FIFOs named like records and snapshots, a symlink to /dev/zero, a 100,000-deep
 * array, a mode-000 file, malformed records, a forged lease naming this very host process); the
 * extension keeps serving: the view refreshes, the status bar keeps its counts, prompts answer.
 */
describe('Agent Pool with hostile files in its registry directory', function () {
  this.timeout(90_000);
  let api: ExtensionExports;
  const planted: string[] = [];

  before(async () => {
    api = await activeExtension();
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await waitUntil(api, () => api.testing.service.selfId !== undefined, 'registration');
  });

  after(() => {
    for (const file of planted.reverse()) rmSync(file, { recursive: true, force: true });
  });

  it('keeps serving: the view refreshes, the status bar keeps its counts, and a prompt answers', async () => {
    const service = api.testing.service;
    const instances = join(service.directory, 'instances');
    const slots = join(service.directory, 'slots');
    const id = (n: number) => `20260101_000000_${700000 + n}_${n.toString(16).padStart(8, '0')}`;
    const plant = (file: string, make: (file: string) => void) => {
      make(file);
      planted.push(file);
    };
    const mkfifo = (file: string) => assert.equal(spawnSync('mkfifo', [file]).status, 0, `mkfifo ${file}`);
    plant(join(instances, `${id(1)}.json`), mkfifo);
    plant(join(instances, `${id(2)}.metrics.json`), mkfifo);
    plant(join(instances, `${id(3)}.metrics.json`), (file) => symlinkSync('/dev/zero', file));
    plant(join(instances, `${id(4)}.metrics.json`), (file) => writeFileSync(file, `${'['.repeat(100_000)}${']'.repeat(100_000)}`));
    plant(join(instances, `${id(5)}.json`), (file) => {
      writeFileSync(file, '{}');
      chmodSync(file, 0o000);
    });
    plant(join(instances, `${id(6)}.json`), (file) =>
      writeFileSync(file, JSON.stringify({ schema: 1, id: id(6), pid: 1.5, startedAt: 1e300, lifecycle: 7, heartbeatSeq: 0, heartbeatAt: 0 })),
    );
    plant(join(instances, `${id(7)}.json`), (file) => symlinkSync(join(instances, `${service.selfId}.json`), file));
    // A forged lease of a dead owner naming this very extension host as its "agent".
    plant(join(slots, 'slot-900'), (file) =>
      writeFileSync(
        file,
        JSON.stringify({
          schema: 1, nonce: 'feedfacefeedface', ownerPid: 2 ** 31 - 2, ownerStartTime: '1', hostname: hostname(), windowId: 'forged',
          label: 'demo', acquiredAt: 0, childPid: process.pid, childStartTime: 'unknown',
        }),
      ),
    );

    const started = Date.now();
    await service.refresh();
    assert.ok(Date.now() - started < 2_000, `a refresh with hostile files took ${Date.now() - started} ms`);
    const view = await service.aggregator.refresh();
    const listed = view.windows.map((window) => window.id);
    assert.deepEqual(listed.filter((one) => one === service.selfId), [service.selfId], `this window is listed once: ${listed.join(', ')}`);
    assert.ok(!listed.some((one) => one.startsWith('20260101_000000_7000')), `hostile records were listed as windows: ${listed.join(', ')}`);
    assert.match(api.testing.statusText(), /\d+\/\d+ \(\d+\)$/);

    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
    const outcome = (await vscode.commands.executeCommand('agentPool.runPrompt', {
      profile: 'demo',
      prompt: 'hello from a hostile directory',
    })) as { text: string; stopReason: string };
    assert.equal(outcome.stopReason, 'end_turn');
    assert.match(outcome.text, /hello from a hostile directory/);

    // The cleanup command sweeps past all of it and never kills this host on the forged lease's word.
    const report = await service.cleanup();
    assert.ok(Array.isArray(report.removedDead));
    assert.equal(report.killedOrphans.includes(process.pid), false);
    assert.match(api.testing.statusText(), /\d+\/\d+ \(\d+\)$/);
  });
});
