import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { transcriptLines, TurnTally, TRANSCRIPT_TEXT_LIMIT, type TranscriptEntry } from '../../../src/core/conversations/transcriptEntry';
import { TRANSCRIPT_GENERATION_BYTES, TranscriptStore, transcriptFileName } from '../../../src/core/conversations/transcriptStore';

function turn(key: string, n: number, answer = `answer ${n}`): TranscriptEntry[] {
  return transcriptLines({ key, profile: 'demo', agent: 'demo-1', sessionId: 's1', turn: n, startedAt: n * 1000, endedAt: n * 1000 + 5, prompt: `prompt ${n}`, tally: new TurnTally(), result: { text: answer, stopReason: 'end_turn' } });
}

/** The transcript files of the conversations folder: bounded, private, and read with the directory's care. */
describe('conversation transcripts on disk', () => {
  let folder: string;
  let store: TranscriptStore;

  beforeEach(() => {
    folder = join(mkdtempSync(join(tmpdir(), 'ap-transcript-')), 'conversations');
    mkdirSync(folder, { mode: 0o700 });
    store = new TranscriptStore(folder);
  });
  afterEach(() => rmSync(join(folder, '..'), { recursive: true, force: true }));

  it('appends lines in order to a private file and reads them back', async () => {
    for (let n = 1; n <= 3; n++) await store.append('chat', turn('chat', n));
    const read = await store.read('chat');
    assert.deepEqual(read.entries.map((entry) => entry.type === 'turn' && entry.answer), ['answer 1', 'answer 2', 'answer 3']);
    assert.equal(read.truncated, false);
    assert.equal(statSync(store.fileOf('chat')).mode & 0o777, 0o600);
  });

  it('a context-lost turn writes its line before the turn, naming why', () => {
    const lines = transcriptLines({ key: 'k', profile: 'demo', agent: 'demo-2', sessionId: 'new', turn: 2, startedAt: 1, endedAt: 2, prompt: 'p', tally: new TurnTally(), result: { text: 'a', stopReason: 'end_turn', continuity: 'context-lost', contextLost: 'the process that held session old is gone' } });
    assert.deepEqual(lines.map((line) => line.type), ['context-lost', 'turn']);
    assert.equal(lines[0]!.type === 'context-lost' && lines[0].reason, 'the process that held session old is gone');
  });

  it('cuts a runaway answer at the text limit and says so', () => {
    const [line] = turn('k', 1, 'x'.repeat(TRANSCRIPT_TEXT_LIMIT + 10));
    assert.ok(line!.type === 'turn');
    assert.deepEqual(line.cut, ['answer']);
    assert.match(line.answer, /\[… 10 more characters not kept in the transcript\]$/);
  });

  it('rotates at the bound: two generations at most, and the export knows the start is gone', async () => {
    const big = 'y'.repeat(60_000);
    let n = 0;
    while (n < 200) await store.append('long', turn('long', ++n, big));
    const current = statSync(store.fileOf('long')).size;
    const previous = statSync(join(folder, transcriptFileName('long', 1))).size;
    assert.ok(current <= TRANSCRIPT_GENERATION_BYTES && previous <= TRANSCRIPT_GENERATION_BYTES, `${current} ${previous}`);
    const read = await store.read('long');
    assert.equal(read.truncated, true);
    const turns = read.entries.map((entry) => (entry.type === 'turn' ? entry.turn : -1));
    assert.equal(turns.at(-1), 200, 'the newest turn is kept');
    assert.deepEqual(turns, [...turns].sort((a, b) => a! - b!), 'oldest first across the two files');
  });

  it('skips torn and foreign lines, and refuses to read or append through a symlink or a FIFO', async () => {
    await store.append('chat', turn('chat', 1));
    appendFileSync(store.fileOf('chat'), `${JSON.stringify(turn('other', 2)[0])}\n{"schema":"agent-pool/transcr`);
    const read = await store.read('chat');
    assert.equal(read.entries.length, 1);
    assert.equal(read.skippedLines, 2);

    const secret = join(folder, '..', 'secret.txt');
    writeFileSync(secret, 'keep out\n');
    symlinkSync(secret, store.fileOf('linked'));
    await assert.rejects(store.append('linked', turn('linked', 1)), /ELOOP|symbolic/);
    assert.equal(readFileSync(secret, 'utf8'), 'keep out\n', 'nothing written through the link');
    assert.match((await store.read('linked')).problems[0]!, /not-a-file \(a symbolic link/);

    execFileSync('mkfifo', [store.fileOf('piped')]);
    await assert.rejects(store.append('piped', turn('piped', 1)), /ENXIO|not a regular file/);
    assert.match((await store.read('piped')).problems[0]!, /named pipe/);
  });

  it('delete removes both generations', async () => {
    await store.append('gone', turn('gone', 1));
    writeFileSync(join(folder, transcriptFileName('gone', 1)), '');
    assert.equal(await store.delete('gone'), true);
    assert.deepEqual(await store.read('gone'), { entries: [], skippedLines: 0, problems: [], truncated: false });
  });
});
