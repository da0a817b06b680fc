import { errorMessage } from '../../core/common/errors';
import { formatDuration } from '../../core/metrics/formats';
import type { CleanupReport } from '../../core/registry/types';
import type { CliContext } from '../context';
import { CliError, EXIT_OK } from '../io';

export async function cleanupCommand(context: CliContext, options: { maxAge?: number; json?: boolean }): Promise<number> {
  const { io, directory } = context;
  let report: CleanupReport;
  let registry: Awaited<ReturnType<CliContext['deps']['openRegistry']>> | undefined;
  try {
    registry = await context.deps.openRegistry(directory);
    report = await registry.cleanup(options.maxAge === undefined ? {} : { maxAgeMs: options.maxAge });
  } catch (error) {
    throw new CliError(
      `Could not clean up ${directory}: ${errorMessage(error)}\n` +
        `Check that the directory exists, belongs to you and is writable (ls -ld ${directory}).`,
    );
  } finally {
    registry?.dispose();
  }
  if (options.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT_OK;
  }
  io.out(describeCleanup(report, directory, options.maxAge));
  return EXIT_OK;
}

export function describeCleanup(report: CleanupReport, directory: string, maxAgeMs: number | undefined): string {
  const lines = [
    ...report.removedDead.map((id) => `Removed dead window ${id} (its process is gone)`),
    ...report.removedStale.map(
      (id) => `Removed stale window ${id} (no heartbeat for more than ${maxAgeMs === undefined ? 'the stale limit' : formatDuration(maxAgeMs)})`,
    ),
    ...report.reclaimedSlots.map((slot) => `Freed budget slot ${slot} (its agent is gone)`),
    ...report.killedOrphans.map((pid) => `Stopped orphan agent process ${pid} (its window is gone)`),
    ...(report.notKilled ?? []).map(
      (pid) => `Did not stop process ${pid}: a lease of a gone window names it, but it cannot be proven to be that agent (see the log above)`,
    ),
  ];
  if (lines.length === 0) return `Nothing to clean up in ${directory}.\n`;
  return `${lines.join('\n')}\n`;
}
