import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { systemClock } from '../../../src/core/common/clock';
import { waitForEvent } from '../../../src/core/common/event';
import { currentProcessIdentity } from '../../../src/core/process/identity';
import { FileInstanceRegistry, type FileInstanceRegistryOptions } from '../../../src/core/registry/fileInstanceRegistry';
import { INSTANCE_ID_PATTERN } from '../../../src/core/directory/layout';
import type { InstanceRecord, RegistryChange } from '../../../src/core/registry/types';
import { CollectingLogger, deadProcessIdentity, FakeClock, isRoot, makeTempDir, writeRecordOfDeadProcess } from './helpers';

const info = { workspaceName: 'demo', workspaceFolders: ['/work/demo'], extensionVersion: '0.1.0' };

describe('FileInstanceRegistry', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let dir: string;
  const opened: FileInstanceRegistry[] = [];
  const open = (options: Partial<FileInstanceRegistryOptions> = {}) => {
    const registry = new FileInstanceRegistry({ directory: dir, log: new CollectingLogger(), oneWindowPerProcess: false, ...options });
    opened.push(registry);
    return registry;
  };

  beforeEach(() => {
    temp = makeTempDir();
    dir = path.join(temp.dir, 'registry');
  });
  afterEach(() => {
    for (const registry of opened.splice(0)) registry.dispose();
    temp.remove();
  });

  it('registers with a time-ordered id and a complete record in a 0700 directory', async () => {
    const clock = new FakeClock();
    const record = await open({ clock }).register({ ...info, address: 'http://127.0.0.1:9000' });
    const self = await currentProcessIdentity();
    assert.match(record.id, INSTANCE_ID_PATTERN);
    assert.ok(record.id.startsWith(`20260115_093000_${process.pid}_`), record.id);
    const onDisk = JSON.parse(readFileSync(path.join(dir, 'instances', `${record.id}.json`), 'utf8')) as InstanceRecord;
    assert.deepEqual(onDisk, record);
    assert.equal(onDisk.processStartTime, self.startTime);
    assert.equal(onDisk.lifecycle, 'ACTIVE');
    assert.equal(onDisk.address, 'http://127.0.0.1:9000');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(path.join(dir, 'tmp')), [], 'the temp file was renamed into place');
  });

  it('narrows a directory others can read to 0700', async () => {
    mkdirSync(dir, { mode: 0o755 });
    const log = new CollectingLogger();
    await open({ log }).register(info);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.ok(log.lines.some((line) => line.includes('narrowed')), log.lines.join('\n'));
  });

  (isRoot ? it : it.skip)('refuses a directory owned by another user, naming it and the setting', async () => {
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 12345, 12345);
    await assert.rejects(open().register(info), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'REGISTRY_UNSAFE');
      assert.ok(error.message.includes(dir) && error.message.includes('agentPool.registryDirectory'), error.message);
      return true;
    });
  });

  it('bumps the heartbeat sequence on the injected clock', async () => {
    const clock = new FakeClock();
    const registry = open({ clock, heartbeatIntervalMs: 2000 });
    const record = await registry.register(info);
    await clock.advance(2000);
    await clock.advance(2000);
    // setLifecycle writes after the heartbeats already in flight: seq 1 and 2 from the timer, 3 from it.
    await registry.setLifecycle('COMPLETING');
    const onDisk = JSON.parse(readFileSync(path.join(dir, 'instances', `${record.id}.json`), 'utf8')) as InstanceRecord;
    assert.equal(onDisk.heartbeatSeq, 3);
    assert.equal(onDisk.lifecycle, 'COMPLETING');
  });

  it('shows a window unresponsive after 15 s without a heartbeat on the reader clock, and live again when it beats', async () => {
    const writerClock = new FakeClock();
    const readerClock = new FakeClock();
    const writer = open({ clock: writerClock });
    const reader = open({ clock: readerClock, useFsWatch: false });
    const record = await writer.register(info);
    await reader.start();
    const changes: RegistryChange[] = [];
    reader.onDidChange((change) => changes.push(change));
    assert.equal(reader.instances().find((view) => view.record.id === record.id)?.health, 'live');

    await readerClock.advance(14_000);
    await reader.refresh();
    assert.equal(reader.instances()[0]!.health, 'live');
    assert.equal(changes.length, 0);
    await readerClock.advance(1_000);
    await reader.refresh();
    assert.equal(reader.instances()[0]!.health, 'unresponsive');
    assert.deepEqual(
      changes.map((change) => change.kind),
      ['unresponsive'],
    );

    await writerClock.advance(2_000);
    await writer.flushHeartbeat();
    await reader.refresh();
    assert.equal(reader.instances()[0]!.health, 'live');
    assert.ok(changes.some((change) => change.kind === 'changed' && change.instance.health === 'live'));
  });

  it('a ±1 h wall-clock jump neither makes a live window unresponsive nor keeps a dead one', async () => {
    const clock = new FakeClock();
    const reader = open({ clock, useFsWatch: false });
    const live = await open({ clock }).register(info);
    const dead = writeRecordOfDeadProcess(dir, await deadProcessIdentity());
    await reader.start();
    clock.jumpWall(3_600_000);
    await clock.advance(2_000);
    clock.jumpWall(-7_200_000);
    await clock.advance(2_000);
    const views = reader.instances();
    assert.deepEqual(views.map((view) => [view.record.id, view.health]), [[live.id, 'live']]);
    assert.equal(existsSync(path.join(dir, 'instances', `${dead}.json`)), false, 'the dead window was reclaimed');
  });

  it('publishes joined, changed and left from the directory watcher', async () => {
    const reader = open({ clock: systemClock, sweepIntervalMs: 60_000, debounceMs: 10 });
    await reader.start();
    const other = open({ clock: systemClock, heartbeatIntervalMs: 60_000 });
    const joined = waitForEvent(reader.onDidChange, (change) => change.kind === 'joined', 5000);
    const record = await other.register(info);
    assert.equal(((await joined) as { instance: { record: InstanceRecord } }).instance.record.id, record.id);
    const changed = waitForEvent(reader.onDidChange, (change) => change.kind === 'changed', 5000);
    await other.setLifecycle('IDLE');
    assert.equal(((await changed) as { instance: { record: InstanceRecord } }).instance.record.lifecycle, 'IDLE');
    const left = waitForEvent(reader.onDidChange, (change) => change.kind === 'left', 5000);
    await other.deregister();
    assert.deepEqual(await left, { kind: 'left', id: record.id });
  });

  it('falls back to polling when watching is off', async () => {
    const reader = open({ clock: systemClock, sweepIntervalMs: 50, useFsWatch: false });
    await reader.start();
    const joined = waitForEvent(reader.onDidChange, (change) => change.kind === 'joined', 5000);
    await open({ clock: systemClock }).register(info);
    await joined;
  });

  it('skips, counts and logs once every kind of bad file, and never throws', async () => {
    const log = new CollectingLogger();
    const reader = open({ log, useFsWatch: false, clock: new FakeClock() });
    const good = await open({ clock: new FakeClock() }).register(info);
    const instances = path.join(dir, 'instances');
    const id = (n: number) => `20260101_000000_${n}_0000000${n}`;
    writeFileSync(path.join(instances, `${id(1)}.json`), '');
    writeFileSync(path.join(instances, `${id(2)}.json`), '{"schema":1,"id":"2026');
    writeFileSync(path.join(instances, `${id(3)}.json`), '\u0000\u00ff garbage');
    writeFileSync(path.join(instances, `${id(4)}.json`), JSON.stringify({ schema: 1, id: id(4), pid: 'nope' }));
    writeFileSync(path.join(instances, `${id(5)}.json`), JSON.stringify({ ...good, id: id(6) }));
    writeFileSync(path.join(instances, 'notes.json'), '{}');
    mkdirSync(path.join(instances, `${id(7)}.json`));
    writeFileSync(path.join(instances, `${id(8)}.json`), 'x'.repeat(300 * 1024));
    writeFileSync(path.join(instances, `${good.id}.metrics.json`), 'not counted: metrics files are not the registry\'s');
    await reader.refresh();
    await reader.refresh();
    assert.deepEqual(reader.instances().map((view) => view.record.id), [good.id]);
    assert.deepEqual(reader.badFileCounts(), {
      empty: 1,
      truncated: 1,
      garbage: 2,
      'wrong-schema': 2,
      vanished: 0,
      'foreign-owner': 0,
      'not-a-file': 1,
      'unexpected-name': 1,
      unreadable: 0,
    });
    assert.equal(log.lines.filter((line) => line.includes('skipped')).length, 8, log.lines.join('\n'));
  });

  it('counts a file that vanishes between listing and reading', async () => {
    const clock = new FakeClock();
    const record = await open({ clock }).register(info);
    const vanishing = path.join(dir, 'instances', `${record.id}.json`);
    const fs = await import('node:fs');
    // Readers open a file once after listing it (O_NONBLOCK, then fstat): that is where it can vanish.
    const flaky = {
      ...fs.promises,
      open: (async (file: string, flags: number) => {
        if (file === vanishing) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
        return fs.promises.open(file, flags);
      }) as typeof fs.promises.open,
    };
    const reader = open({ clock, fs: flaky, useFsWatch: false });
    await reader.refresh();
    assert.equal(reader.badFileCounts().vanished, 1);
    assert.deepEqual(reader.instances(), []);
  });

  (isRoot ? it : it.skip)('ignores a record owned by another user', async () => {
    const clock = new FakeClock();
    const record = await open({ clock }).register(info);
    chownSync(path.join(dir, 'instances', `${record.id}.json`), 12345, 12345);
    const reader = open({ clock, useFsWatch: false });
    await reader.refresh();
    assert.deepEqual(reader.instances(), []);
    assert.equal(reader.badFileCounts()['foreign-owner'], 1);
  });

  it('deregisters on close, synchronously on dispose, and a reloaded window leaves no ghost', async () => {
    const first = open({ oneWindowPerProcess: true, clock: new FakeClock() });
    const a = await first.register(info);
    await first.deregister();
    assert.equal(existsSync(path.join(dir, 'instances', `${a.id}.json`)), false);

    const second = open({ oneWindowPerProcess: true, clock: new FakeClock() });
    const b = await second.register(info);
    second.dispose();
    assert.equal(existsSync(path.join(dir, 'instances', `${b.id}.json`)), false);

    // A reload where the old registry never got to clean up (the host was torn down first).
    const crashed = open({ oneWindowPerProcess: true, clock: new FakeClock() });
    const c = await crashed.register(info);
    const reloaded = open({ oneWindowPerProcess: true, clock: new FakeClock() });
    const d = await reloaded.register(info);
    assert.deepEqual(readdirSync(path.join(dir, 'instances')), [`${d.id}.json`]);
    assert.notEqual(c.id, d.id);
  });

  it('explicit cleanup removes dead records, keeps live ones, and keeps another host\'s until its heartbeat stood still for the max age here', async () => {
    const clock = new FakeClock();
    const registry = open({ clock, useFsWatch: false });
    const self = await registry.register(info);
    const live = await open({ clock }).register(info);
    const dead = writeRecordOfDeadProcess(dir, await deadProcessIdentity());
    const elsewhere = writeRecordOfDeadProcess(dir, { pid: 1, startTime: '1' }, 'another-host');
    const report = await registry.cleanup();
    assert.deepEqual(report.removedDead, [dead]);
    // Its processes cannot be checked from here and its wall clock is not ours: no proof, so it stays.
    assert.deepEqual(report.removedStale, []);
    assert.deepEqual(registry.instances().map((view) => view.record.id).sort(), [self.id, elsewhere, live.id].sort());
    await clock.advance(3_600_000);
    const later = await registry.cleanup();
    assert.deepEqual(later.removedStale, [elsewhere], 'a record whose heartbeat this reader watched stand still for the max age goes');
  });

  it('fails with a clear error when the directory cannot be written', async () => {
    writeFileSync(path.join(temp.dir, 'a-file'), '');
    const registry = open({ directory: path.join(temp.dir, 'a-file', 'registry') });
    await assert.rejects(registry.register(info), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'REGISTRY_UNAVAILABLE');
      assert.ok(error.message.includes('a-file') && error.message.includes('agentPool.registryDirectory'), error.message);
      return true;
    });
  });

  it('rejects unknown options by name', () => {
    assert.throws(() => new FileInstanceRegistry({ directory: dir, heartbeatMs: 5 } as never), /unknown option "heartbeatMs"/);
    assert.throws(() => new FileInstanceRegistry({ directory: dir, heartbeatIntervalMs: 0 }), /heartbeatIntervalMs/);
  });
});
