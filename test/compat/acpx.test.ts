import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunEvent, type DoneEvent } from '../../src/cli/output/runEvents';
import { repoRoot } from '../fixtures/repoRoot';

/**
 * Compatibility with acpx, the closest peer (a headless ACP client): the same prompt through our CLI and
 * through acpx, both against our demo agent, gives the same answer text. Run by `npm run test:compat`
 * (scripts/compat-acpx.mjs), which installs acpx under Node 24 and passes their paths in.
 */
describe('compatibility with acpx (same prompt, same demo agent, same answer)', function () {
  this.timeout(60_000);
  const acpx = process.env.AGENT_POOL_ACPX;
  const node24 = process.env.AGENT_POOL_NODE24;
  const root = repoRoot();
  const ourCli = join(root, 'dist', 'cli.js');
  const demoAgent = join(root, 'dist', 'demo-agent.js');
  let home: string;

  before(() => {
    if (!acpx || !node24) throw new Error('AGENT_POOL_ACPX and AGENT_POOL_NODE24 are not set: run this suite with npm run test:compat');
  });
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'ap-compat-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  function exec(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    // acpx keeps sessions and config under HOME: a fresh one per test leaves the user's alone.
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_STATE_HOME: join(home, '.state') };
    return new Promise((resolve) => {
      execFile(command, args, { cwd: home, env, timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
  }

  async function throughAcpx(prompt: string, permissionFlag: string[] = [], expectedCode = 0): Promise<string> {
    // The agent command is one string that acpx splits on spaces: the paths here have none.
    const result = await exec(node24!, [acpx!, '--agent', `${process.execPath} ${demoAgent}`, '--format', 'quiet', ...permissionFlag, 'exec', prompt]);
    assert.equal(result.code, expectedCode, `acpx exit code: ${result.stderr}`);
    return result.stdout;
  }

  async function throughOurs(prompt: string, format: 'quiet' | 'json', permissions: string[] = []): Promise<string> {
    const result = await exec(process.execPath, [ourCli, '--dir', join(home, 'registry'), 'run', '--profile', 'demo', '--format', format, ...permissions, prompt]);
    assert.equal(result.code, 0, `agent-pool run failed: ${result.stderr}`);
    if (format === 'quiet') return result.stdout;
    const done = result.stdout.trim().split('\n').map((line) => parseRunEvent(line)).at(-1) as DoneEvent;
    return `${done.text}\n`;
  }

  // acpx exits 5 (PERMISSION_DENIED) after a turn in which it denied a permission; ours exits 0, because
  // the turn ended with end_turn and the denial is in the stream (permission_answered, allowed: false).
  const cases: Array<{ name: string; prompt: string; ours?: string[]; theirs?: string[]; acpxExit?: number; expected: string }> = [
    { name: 'a plain prompt', prompt: 'hello from both clients', expected: 'hello from both clients\n' },
    { name: 'a multi-line prompt streamed in five chunks', prompt: '/demo chunks=5\nfirst line\nsecond line', expected: 'first line\nsecond line\n' },
    { name: 'a turn with a thought and a tool call', prompt: '/demo thought tool\nafter the tool', expected: 'after the tool\n' },
    { name: 'a permission everyone allows', prompt: '/demo permission=edit\nx', ours: ['--permissions', 'allowAll'], theirs: ['--approve-all'], expected: 'permission granted (allow)\n' },
    { name: 'a permission everyone denies', prompt: '/demo permission=edit\nx', ours: ['--permissions', 'reject'], theirs: ['--deny-all'], acpxExit: 5, expected: 'permission denied (reject)\n' },
    { name: 'a read that read-only policies allow', prompt: '/demo permission=read\nx', ours: ['--permissions', 'allowReadOnly'], theirs: ['--approve-reads'], expected: 'permission granted (allow)\n' },
  ];

  for (const { name, prompt, ours, theirs, acpxExit, expected } of cases) {
    it(name, async () => {
      const [acpxAnswer, quietAnswer, jsonAnswer] = await Promise.all([throughAcpx(prompt, theirs, acpxExit), throughOurs(prompt, 'quiet', ours), throughOurs(prompt, 'json', ours)]);
      assert.equal(acpxAnswer, expected, 'acpx answer');
      assert.equal(quietAnswer, acpxAnswer, 'agent-pool run --format quiet vs acpx --format quiet');
      assert.equal(jsonAnswer, acpxAnswer, 'agent-pool run --format json (done.text) vs acpx --format quiet');
    });
  }
});
