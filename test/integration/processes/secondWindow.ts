/**
 * Another "window" for the integration tests: a separate Node process running the same core
 * (AgentPoolService) against the same registry directory, with its own demo-agent pool.
 * Usage: node secondWindow.js <registry dir> <agents> <dist dir>
 * Prints one JSON line {"ready": "<instance id>"} once its agents are idle; SIGTERM shuts it down cleanly.
 */
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';

async function main(): Promise<void> {
  const [directory, agentsArg, distDirectory] = process.argv.slice(2);
  const agents = Number(agentsArg);
  const values: Record<string, unknown> = {
    registryDirectory: directory,
    'pool.minAgents': agents,
    'pool.maxAgents': Math.max(1, agents),
    maxAgentsTotal: 16,
    maxAgentsPerWindow: 8,
    heartbeatIntervalMs: 500,
  };
  const { settings } = readSettings((key) => values[key]);
  const service = new AgentPoolService({
    settings,
    workspace: { name: 'second-window', folders: [process.cwd()] },
    extensionVersion: 'test',
    cwd: process.cwd(),
    distDirectory,
    spawnBlockedReason: () => undefined,
    log: (level, message) => process.stderr.write(`[second-window] ${level} ${message}\n`),
  });
  process.on('SIGTERM', () => void service.shutdown().then(() => process.exit(0)));
  await service.start();
  await service.startPool('demo');
  const ready = () => service.pools().flatMap((p) => p.agents).filter((a) => a.state === 'idle').length >= agents;
  await new Promise<void>((resolve) => {
    if (ready()) return resolve();
    const subscription = service.onDidChange(() => {
      if (!ready()) return;
      subscription.dispose();
      resolve();
    });
  });
  process.stdout.write(JSON.stringify({ ready: service.selfId }) + '\n');
  // The service's timers are unref'd (a window never keeps its host alive); without agents nothing else would keep this one.
  setInterval(() => undefined, 1 << 30);
}

main().catch((error) => {
  process.stderr.write(`[second-window] ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
