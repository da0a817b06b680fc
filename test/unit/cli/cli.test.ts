import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricsFilePath, recordFilePath } from '../../../src/core/directory/layout';
import { FixtureWindow } from '../../fixtures/metrics/spawnWindow';
import type { WindowSpec } from '../../fixtures/metrics/windowSpec';
import { parsePrometheus } from '../metrics/prometheusParser';
import { RunningCli, assertBuilt, runBuiltCli } from './cliProcess';

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
    })
      .on('error', reject)
      .end();
  });
}

/** The built `agent-pool` binary against a temp registry directory with two real window processes. */
describe('agent-pool CLI (built binary)', function () {
  this.timeout(60_000);
  let dir: string;
  let windows: FixtureWindow[];
  const ids = ['20250101_000000_11_aaaaaaaa', '20250101_000000_12_bbbbbbbb'];

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const specs: WindowSpec[] = [
      { dir, id: ids[0]!, profile: 'demo', idle: 2, busy: 1, queued: 0, turns: 20, seed: 1, medianMs: 800 },
      { dir, id: ids[1]!, profile: 'claude', idle: 1, busy: 1, queued: 1, turns: 0, seed: 2, medianMs: 100, minIntervalMs: 50 },
    ];
    windows = await Promise.all(specs.map((spec) => FixtureWindow.start(spec)));
  });

  after(async () => {
    await Promise.all(windows.map((window) => window.kill()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes every command with --help and exits 0', async () => {
    const expected: Record<string, RegExp> = {
      status: /--compact[\s\S]*--json[\s\S]*--watch/,
      instances: /--json/,
      cleanup: /--max-age <duration>/,
      metrics: /--prometheus[\s\S]*--json[\s\S]*--instance <id>/,
      'serve-metrics': /--port <n>[\s\S]*127\.0\.0\.1/,
      // The prompt became optional (-f FILE, "-" for stdin) with issue 17.
      run: /\[prompt\][\s\S]*--profile <name>[\s\S]*-f, --file <path>[\s\S]*--format <format>[\s\S]*--permissions <policy>/,
    };
    const top = await runBuiltCli(['--help']);
    assert.equal(top.code, 0);
    for (const [command, options] of Object.entries(expected)) {
      assert.match(top.stdout, new RegExp(`\\n  ${command}\\b`));
      const help = await runBuiltCli([command, '--help']);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, options, command);
    }
  });

  it('prints the live line, compact and JSON', async () => {
    const full = await runBuiltCli(['status', '--dir', dir]);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /^Agents: 5 \(2\) \| Busy: 2 \| Queued: 1 \| p95: \S+ \| Errors: \d+%\nTokens: 200 in \/ 60 out \| Cost: -\n$/);
    const compact = await runBuiltCli(['status', '--compact', '--dir', dir]);
    assert.equal(compact.stdout, 'A:5(2)\n');
    const json = JSON.parse((await runBuiltCli(['status', '--json', '--dir', dir])).stdout);
    assert.equal(json.totals.agentsTotal, 5);
    assert.equal(json.totals.prompts.total, 20);
    assert.equal(json.windows.length, 2);
  });

  it('lists windows with state and heartbeat age', async () => {
    const text = await runBuiltCli(['instances', '--dir', dir]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^ID\s+STATE\s+LIFECYCLE\s+PID\s+AGENTS\s+BUSY\s+HEARTBEAT\s+WORKSPACE\n/);
    for (const id of ids) assert.match(text.stdout, new RegExp(`${id}\\s+live\\s+ACTIVE\\s+\\d+\\s+\\d\\s+\\d\\s+[\\d.]+(ms|s|m|h) ago`));
    const json = JSON.parse((await runBuiltCli(['instances', '--json', '--dir', dir])).stdout);
    assert.deepEqual(json.map((row: { id: string }) => row.id), ids);
    assert.ok(json.every((row: { heartbeatAgeMs: number; health: string }) => row.health === 'live' && row.heartbeatAgeMs >= 0));
  });

  it('prints metrics for all windows or one, as text, JSON and Prometheus', async () => {
    const prometheus = await runBuiltCli(['metrics', '--prometheus', '--dir', dir]);
    assert.equal(prometheus.code, 0);
    const parsed = parsePrometheus(prometheus.stdout);
    const windowsSeen = new Set(parsed.samples.filter((s) => s.name === 'agent_pool_agents').map((s) => s.labels.window));
    assert.deepEqual([...windowsSeen].sort(), ids);

    const one = parsePrometheus((await runBuiltCli(['metrics', '--prometheus', '--instance', ids[1]!, '--dir', dir])).stdout);
    assert.deepEqual([...new Set(one.samples.filter((s) => s.labels.window).map((s) => s.labels.window))], [ids[1]]);

    const json = JSON.parse((await runBuiltCli(['metrics', '--json', '--instance', 'bbbbbbbb', '--dir', dir])).stdout);
    assert.equal(json.windows.length, 1);
    assert.equal(json.windows[0].snapshot.pools[0].profile, 'claude');

    const text = await runBuiltCli(['metrics', '--dir', dir]);
    assert.match(text.stdout, /demo: 3 agents \(1 busy, 2 idle, 0 starting\)/);
    assert.match(text.stdout, /prompts 20 \(\d+ failed, \d+ timed out, 0 cancelled\) \| p50 \S+ p95 \S+ p99 \S+/);
  });

  it('exits 2 on usage errors and 1 on failures, saying what to do', async () => {
    const usage = await runBuiltCli(['status', '--nope']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown option '--nope'[\s\S]*--help/);
    const port = await runBuiltCli(['serve-metrics', '--port', '99999']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /not a port: use a whole number/);
    const conflict = await runBuiltCli(['metrics', '--json', '--prometheus']);
    assert.equal(conflict.code, 2);
    const missing = await runBuiltCli(['metrics', '--instance', 'nope', '--dir', dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No window with id "nope"[\s\S]*agent-pool instances/);
  });

  it('redraws the status line on change and exits 0 on Ctrl-C', async () => {
    const watch = new RunningCli(['status', '--watch', '--compact', '--dir', dir]);
    const first = await watch.waitForLine(/^A:\d+\(\d+\)$/);
    assert.equal(first.line, 'A:5(2)');
    const json = new RunningCli(['status', '--watch', '--json', '--dir', dir]);
    const before = await json.waitForLine(/"prompts"/);
    await windows[1]!.send({ cmd: 'turns', count: 7, seed: 5, medianMs: 10 });
    const after = await json.waitForLine(/"prompts"/, before.index + 1);
    assert.equal(JSON.parse(after.line).totals.prompts.total, 27);
    assert.equal(await watch.stop('SIGINT'), 0);
    assert.equal(await json.stop('SIGINT'), 0);
  });

  it('serves /metrics on 127.0.0.1 only, 404 elsewhere, and exits 0 on Ctrl-C', async () => {
    const server = new RunningCli(['serve-metrics', '--port', '0', '--dir', dir]);
    const { line } = await server.waitForLine(/^Serving metrics at /);
    const url = /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(line);
    assert.ok(url, line);
    const metrics = await get(url[0]);
    assert.equal(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
    assert.ok(parsePrometheus(metrics.body).samples.some((s) => s.name === 'agent_pool_prompts_total'));
    assert.equal((await get(url[0].replace('/metrics', '/'))).status, 404);
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) {
      await assert.rejects(get(`http://${external.address}:${url[1]}/metrics`), /ECONNREFUSED/);
    }
    assert.equal(await server.stop('SIGINT'), 0);
  });

  it('cleans up a dead window and says what it removed', async () => {
    const deadId = '20250101_000000_4000000_deaddead';
    const record = {
      schema: 1, id: deadId, pid: 4_000_000, processStartTime: '1', hostname: hostname(), workspaceName: 'gone',
      workspaceFolders: [], extensionVersion: '0.1.0', startedAt: 0, lifecycle: 'ACTIVE', heartbeatSeq: 1, heartbeatAt: 0,
    };
    writeFileSync(recordFilePath(dir, deadId), JSON.stringify(record));
    writeFileSync(metricsFilePath(dir, deadId), '{}');
    const result = await runBuiltCli(['cleanup', '--dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Removed dead window ${deadId}`));
    assert.equal(existsSync(recordFilePath(dir, deadId)), false);
    assert.equal(existsSync(metricsFilePath(dir, deadId)), false);
    assert.equal(existsSync(recordFilePath(dir, ids[0]!)), true, 'live windows stay');
    const again = await runBuiltCli(['cleanup', '--dir', dir]);
    assert.equal(again.stdout, `Nothing to clean up in ${dir}.\n`);
  });
});
