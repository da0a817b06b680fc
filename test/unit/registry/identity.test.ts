import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  currentProcessIdentity,
  identityOf,
  isProcessAlive,
  isProvablyDead,
  killIdentified,
  parseLinuxStat,
  processLiveness,
  sameProcess,
} from '../../../src/core/process/identity';

const linuxOnly = process.platform === 'linux' ? it : it.skip;

describe('process identity', () => {
  it('names this process by pid and a start time that does not change', async () => {
    const self = await currentProcessIdentity();
    assert.equal(self.pid, process.pid);
    assert.match(self.startTime, /\S/);
    assert.deepEqual(await identityOf(process.pid), self);
    assert.equal(await sameProcess(self), true);
  });

  it('calls a reused pid dead: same pid, different start time', async () => {
    const self = await currentProcessIdentity();
    assert.equal(await processLiveness({ pid: self.pid, startTime: `${self.startTime}1` }), 'dead');
    assert.equal(await isProvablyDead({ pid: self.pid, startTime: `${self.startTime}1` }), true);
  });

  it('calls a killed child dead, and never signals a group for a bad pid', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const identity = (await identityOf(child.pid!))!;
    assert.equal(await sameProcess(identity), true);
    assert.equal(await killIdentified(identity), true);
    await once(child, 'exit');
    assert.equal(await isProvablyDead(identity), true);
    assert.equal(isProcessAlive(identity.pid), false);
    assert.equal(isProcessAlive(0), false);
    assert.equal(isProcessAlive(-1), false);
    assert.equal(await processLiveness({ pid: 0, startTime: 'x' }), 'dead');
  });

  it('refuses to kill a process whose start time does not match (pid reuse)', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const identity = (await identityOf(child.pid!))!;
      assert.equal(await killIdentified({ pid: identity.pid, startTime: `${identity.startTime}9` }), false);
      assert.equal(await sameProcess(identity), true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  linuxOnly('reads field 22 even when the command name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    fields[2] = '4242';
    fields[19] = '987654';
    const stat = parseLinuxStat(`4242 (evil ) (name) ${fields.join(' ')}`);
    assert.deepEqual(stat, { state: 'S', startTime: '987654', processGroup: 4242 });
    assert.equal(parseLinuxStat('garbage'), undefined);
  });

  linuxOnly('calls a zombie dead: it can never run again', async () => {
    // `sh -c 'sleep 30 & exec sleep 0.2'`: the first sleep's parent becomes a process that never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 30 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
    const childPid = Number(chunk.toString().trim());
    const identity = (await identityOf(childPid))!;
    process.kill(childPid, 'SIGKILL');
    // The parent (sleep) never waits, so the child stays a zombie: kill(pid, 0) still succeeds.
    // The kernel turns it into a zombie shortly after the signal; there is no event for that, so look.
    for (let i = 0; i < 500 && (await processLiveness(identity)) !== 'dead'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(isProcessAlive(childPid), true, 'a zombie still answers kill(pid, 0)');
    assert.equal(await processLiveness(identity), 'dead');
    parent.kill('SIGKILL');
  });
});
