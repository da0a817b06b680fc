import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, promises as fsp, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BudgetError } from '../../../src/core/budget/budget';
import { SlotFileBudget, type SlotFileBudgetOptions } from '../../../src/core/budget/slotFileBudget';
import type { FileSystem } from '../../../src/core/directory/privateFiles';
import { CollectingLogger, isRoot, makeTempDir } from '../registry/helpers';

/** A real file system that fails one operation with `code` while `failing` is set. */
function failingFs(operation: 'link' | 'writeFile' | 'rename' | 'unlink', code: string) {
  const state = { failing: true };
  const fs: FileSystem = {
    ...fsp,
    [operation]: async (...args: unknown[]) => {
      if (state.failing) throw Object.assign(new Error(`${code}: injected`), { code });
      return (fsp[operation] as (...a: unknown[]) => Promise<unknown>)(...args);
    },
  };
  return { fs, state };
}

function expectUnavailable(directory: string, pattern: RegExp) {
  return (error: BudgetError) => {
    assert.equal(error.code, 'BUDGET_UNAVAILABLE');
    assert.ok(error.message.includes(directory), error.message);
    assert.match(error.message, pattern);
    assert.match(error.message, /agentPool\.registryDirectory/);
    return true;
  };
}

/** Can this process mount a tmpfs (root in a container with CAP_SYS_ADMIN)? */
function canMount(): boolean {
  if (!isRoot || process.platform !== 'linux') return false;
  const probe = makeTempDir('agent-pool-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe.dir], { stdio: 'ignore' });
    execFileSync('umount', [probe.dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    probe.remove();
  }
}

describe('SlotFileBudget on an unusable directory: fails safe, says what to do', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let dir: string;
  const opened: SlotFileBudget[] = [];
  const mounts: string[] = [];
  const open = async (options: Partial<SlotFileBudgetOptions> = {}) => {
    const budget = await SlotFileBudget.open({ directory: dir, maxAgentsTotal: 2, windowId: 'w', log: new CollectingLogger(), ...options });
    opened.push(budget);
    return budget;
  };

  beforeEach(() => {
    temp = makeTempDir('agent-pool-unusable-');
    dir = path.join(temp.dir, 'registry');
  });
  afterEach(() => {
    for (const budget of opened.splice(0)) budget.dispose();
    for (const mount of mounts.splice(0)) execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
    chmodSync(temp.dir, 0o700);
    temp.remove();
  });

  it('refuses when a file stands where the slots directory should be, and recovers once it is gone', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, 'slots'), 'not a directory');
    const budget = await open();
    assert.match(budget.snapshot().unavailableReason ?? '', /a file stands where a directory should be/);
    await assert.rejects(budget.tryAcquire({ label: 'demo' }), expectUnavailable(dir, /ENOTDIR|EEXIST/));
    await assert.rejects(budget.acquire({ label: 'demo', timeoutMs: 60_000 }), expectUnavailable(dir, /No agent is started/));
    rmSync(path.join(dir, 'slots'));
    assert.ok(await budget.tryAcquire({ label: 'demo' }));
    assert.equal(budget.snapshot().unavailableReason, undefined);
  });

  it('grants nothing when the slot link fails with a full quota, and leaves no file behind', async () => {
    const { fs, state } = failingFs('link', 'EDQUOT');
    const budget = await open({ fs });
    await assert.rejects(budget.tryAcquire({ label: 'demo' }), expectUnavailable(dir, /quota is full/));
    assert.deepEqual(readdirSync(path.join(dir, 'slots')), []);
    assert.deepEqual(readdirSync(path.join(dir, 'tmp')), []);
    state.failing = false;
    assert.ok(await budget.tryAcquire({ label: 'demo' }));
  });

  it('grants nothing when the lease cannot be written (disk full)', async () => {
    const { fs } = failingFs('writeFile', 'ENOSPC');
    const budget = await open({ fs });
    await assert.rejects(budget.tryAcquire({ label: 'demo' }), expectUnavailable(dir, /disk or your quota is full/));
    assert.deepEqual(readdirSync(path.join(dir, 'slots')), []);
  });

  it('reports a failed bind and retries a failed release on the next sweep', async () => {
    const rename = failingFs('rename', 'EROFS');
    const budget = await open({ fs: rename.fs });
    const slot = (await budget.tryAcquire({ label: 'demo' }))!;
    await assert.rejects(slot.bindProcess({ pid: 42, startTime: '1' }), expectUnavailable(dir, /read-only/));

    const unlink = failingFs('unlink', 'EROFS');
    const other = await open({ fs: unlink.fs, windowId: 'w2' });
    const held = (await other.tryAcquire({ label: 'demo' }))!;
    await held.release();
    assert.equal(readdirSync(path.join(dir, 'slots')).length, 2, 'the lease stays while the directory refuses');
    unlink.state.failing = false;
    await other.sweep();
    assert.equal(readdirSync(path.join(dir, 'slots')).length, 1);
  });

  (isRoot ? it.skip : it)('refuses a directory it may not write (mode 0500)', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const budget = await open();
    chmodSync(path.join(dir, 'tmp'), 0o500);
    chmodSync(path.join(dir, 'slots'), 0o500);
    await assert.rejects(budget.tryAcquire({ label: 'demo' }), expectUnavailable(dir, /not writable/));
  });

  describe('on real read-only and full file systems (tmpfs, needs root)', function () {
    before(function () {
      if (!canMount()) this.skip();
    });

    it('fails safe on a read-only file system', async () => {
      mkdirSync(dir, { mode: 0o700 });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir]);
      mounts.push(dir);
      for (const sub of ['slots', 'tmp', 'instances']) mkdirSync(path.join(dir, sub), { mode: 0o700 });
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      const budget = await open();
      assert.match(budget.snapshot().unavailableReason ?? '', /read-only/);
      await assert.rejects(budget.tryAcquire({ label: 'demo' }), expectUnavailable(dir, /EROFS/));
      assert.deepEqual(readdirSync(path.join(dir, 'slots')), []);
    });

    it('fails safe on a full file system, and works again once there is room', async () => {
      mkdirSync(dir, { mode: 0o700 });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir]);
      mounts.push(dir);
      const budget = await open();
      const filler = path.join(dir, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(1024 * 1024));
      } catch {
        // ENOSPC: exactly what we wanted, the file system is now full.
      }
      await assert.rejects(budget.tryAcquire({ label: 'demo' }), expectUnavailable(dir, /ENOSPC/));
      assert.deepEqual(readdirSync(path.join(dir, 'slots')), []);
      rmSync(filler);
      assert.ok(await budget.tryAcquire({ label: 'demo' }));
    });
  });
});
