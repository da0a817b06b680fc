import { cliBackend } from '../backend';
import { formatDuration, poolCircuits } from '../../core/metrics/formats';
import type { CliContext } from '../context';
import { EXIT_OK, table } from '../io';
import { noWindowsHint } from './status';

export async function instancesCommand(context: CliContext, options: { json?: boolean }): Promise<number> {
  const { io, directory } = context;
  const aggregator = cliBackend(context).createMetricsView({ log: (message) => io.err(`${message}\n`) });
  try {
    const view = await aggregator.refresh();
    const rows = view.windows.map((window) => ({
      id: window.id,
      health: window.health,
      lifecycle: window.record.lifecycle,
      pid: window.record.pid,
      hostname: window.record.hostname,
      workspaceName: window.record.workspaceName,
      heartbeatAgeMs: Math.round(window.heartbeatAgeMs),
      agents: window.snapshot?.pools.reduce((sum, pool) => sum + pool.agents.total, 0) ?? 0,
      busy: window.snapshot?.pools.reduce((sum, pool) => sum + pool.agents.busy, 0) ?? 0,
      pools: poolCircuits(window.snapshot),
      startedAt: new Date(window.record.startedAt).toISOString(),
    }));
    if (options.json) {
      io.out(`${JSON.stringify(rows, null, 2)}\n`);
      return EXIT_OK;
    }
    if (rows.length === 0) {
      io.err(noWindowsHint(directory));
      return EXIT_OK;
    }
    io.out(
      table([
        ['ID', 'STATE', 'LIFECYCLE', 'PID', 'AGENTS', 'BUSY', 'HEARTBEAT', 'WORKSPACE'],
        ...rows.map((row) => [
          row.id,
          row.health,
          row.lifecycle,
          String(row.pid),
          String(row.agents),
          String(row.busy),
          `${formatDuration(row.heartbeatAgeMs)} ago`,
          row.workspaceName,
        ]),
      ]),
    );
    return EXIT_OK;
  } finally {
    aggregator.dispose();
  }
}
