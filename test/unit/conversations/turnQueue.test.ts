import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TurnQueue } from '../../../src/core/conversations/turnQueue';
import { currentProcessIdentity } from '../../../src/core/process/identity';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The line's tickets as files: who counts as ahead, and what blocks nobody. */
describe('a conversation turn queue (real files, real process identities)', () => {
  let base: string;
  let queue: TurnQueue;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'ap-queue-unit-'));
    mkdirSync(join(base, 'tmp'));
    queue = new TurnQueue(join(base, 'line.queue'), join(base, 'tmp'), quiet);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('numbers tickets in the order they are taken, and the folder goes with the last one', async () => {
    const tickets = [];
    for (let i = 0; i < 5; i++) tickets.push(await queue.take(`t${i}`));
    assert.deepEqual([...tickets].sort((a, b) => a.seq - b.seq), tickets);
    assert.deepEqual(await Promise.all(tickets.map(async (ticket) => (await ticket.ahead()).count)), [0, 1, 2, 3, 4]);
    assert.equal((await tickets[3]!.ahead()).running?.label, 't0');
    for (const ticket of tickets) await ticket.release();
    assert.deepEqual(readdirSync(base).sort(), ['tmp'], 'no queue folder, no temp file left');
  });

  it('a ticket of a process that is gone (pid reused: another start time) is removed; garbage blocks nobody', async () => {
    const self = await currentProcessIdentity();
    const mine = await queue.take('me');
    writeFileSync(queue.ticketPath(1), JSON.stringify({ pid: self.pid, startTime: 'started-long-ago', label: 'ghost' }));
    writeFileSync(queue.ticketPath(2), '{"pid": not json');
    writeFileSync(queue.ticketPath(3), JSON.stringify({ pid: self.pid, startTime: self.startTime, label: 'alive' }));
    const ahead = await mine.ahead();
    assert.deepEqual([ahead.count, ahead.running?.label], [1, 'alive']);
    assert.ok(!readdirSync(queue.folder).includes(queue.ticketPath(1).split('/').at(-1)!), 'the dead holder\'s ticket was removed');
    await mine.release();
  });

  it('a wait gives up at its deadline with the caller\'s error, and a signal ends it', async () => {
    const started = performance.now();
    await assert.rejects(queue.whenReady(async () => undefined, { timeoutMs: 300 }, () => new Error('gave up')), /gave up/);
    assert.ok(performance.now() - started >= 300);
    const controller = new AbortController();
    const waiting = queue.whenReady(async () => undefined, { signal: controller.signal }, () => new Error('never'));
    controller.abort();
    await assert.rejects(waiting, (error: Error & { code?: string }) => error.code === 'CONVERSATION_WAIT_CANCELLED');
  });
});
