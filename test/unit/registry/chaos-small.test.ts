import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

/**
 * The reduced `npm run chaos` (CHAOS_SCALE=small) as a child process: real processes racing,
 * SIGKILLed, frozen, fed bad files. Its own invariants make it exit non-zero; the figures on its
 * last line are checked here again so a silent regression in the runner cannot pass.
 */
describe('chaos (reduced, real processes)', function () {
  this.timeout(120_000);

  it('keeps every invariant of the registry and the budget', async () => {
    const root = path.resolve(__dirname, '../../..');
    const child = spawn(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'test/chaos/run.ts'], {
      cwd: root,
      env: { ...process.env, CHAOS_SCALE: 'small' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, `exactly one JSON line on stdout, got:\n${stdout}\n${stderr}`);
    const figures = JSON.parse(lines[0]!);
    assert.deepEqual(figures.violations, [], stderr);
    assert.equal(code, 0, stderr);
    assert.equal(figures.ok, true);
    assert.equal(figures.race.maxConcurrentHolders, figures.race.cap);
    assert.equal(figures.race.slotsLost, 0);
    assert.equal(figures.race.heldTwice, 0);
    assert.ok(figures.kills.total >= 60, `kills ${figures.kills.total}`);
    assert.ok(figures.kills.midAcquire > 0 && figures.kills.midReclaim > 0, JSON.stringify(figures.kills));
    assert.equal(figures.kills.slotsLeakedAfterOneSweep, 0);
    assert.equal(figures.kills.orphansLeft, 0);
    assert.ok(figures.kills.maxConcurrentHolders <= 8);
    assert.equal(figures.freezes.heldTwice, 0);
    assert.ok(figures.mixedCaps.maxWhileCap2 <= 2 && figures.mixedCaps.maxAfterCap2Left === 6, JSON.stringify(figures.mixedCaps));
    assert.equal(figures.freezes.liveSlotsReclaimed, 0);
    assert.ok(figures.badFiles.tried > 15);
    assert.equal(figures.badFiles.crashes, 0);
    assert.equal(figures.deadWindows.undetected, 0);
    assert.equal(figures.deadWindows.orphansLeft, 0);
    assert.equal(figures.frozenWindow.removedWhileFrozen, false);
    assert.equal(figures.frozenWindow.liveAgain, true);
  });
});
