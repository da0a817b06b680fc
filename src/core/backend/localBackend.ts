import { SlotFileBudget } from '../budget/slotFileBudget';
import { metricsFilePath } from '../directory/layout';
import { MetricsAggregator } from '../metrics/aggregator';
import { SnapshotWriter } from '../metrics/snapshotWriter';
import { FileInstanceRegistry } from '../registry/fileInstanceRegistry';
import type { CoordinationBackend } from './backend';

/** The default backend: files in the per-user registry directory of this machine. */
export function localBackend(directory: string): CoordinationBackend {
  return {
    kind: 'local',
    directory,
    describe: directory,
    createRegistry: (options) => new FileInstanceRegistry({ directory, ...options }),
    openBudget: (options) => SlotFileBudget.open({ directory, ...options }),
    createMetricsView: (options) => new MetricsAggregator({ directory, ...options }),
    createMetricsPublisher: ({ instanceId, ...options }) => new SnapshotWriter({ file: metricsFilePath(directory, instanceId), ...options }),
    dispose: () => undefined,
  };
}
