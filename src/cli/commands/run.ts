import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { errorMessage } from '../../core/common/errors';
import { readSettings } from '../../core/config/settings';
import { AgentPoolService } from '../../core/service/agentPoolService';
import type { CliContext } from '../context';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../io';

export interface RunOptions {
  profile: string;
  session?: string;
  profiles?: string;
  verbose?: boolean;
}

/** Exit code of a run cancelled with Ctrl-C, as shells report SIGINT. */
const EXIT_CANCELLED = 130;

/**
 * `agent-pool run`: a headless pool that registers in the same directory as the VS Code windows
 * (so it shows up in their status bar and view), takes a slot of the shared budget, streams the
 * answer to stdout, and deregisters. Ctrl-C cancels the turn; the agent is then stopped.
 */
export async function runCommand(context: CliContext, options: RunOptions, prompt: string): Promise<number> {
  const { io } = context;
  const values: Record<string, unknown> = {
    registryDirectory: context.directory,
    profiles: options.profiles ? readProfilesFile(options.profiles) : {},
    'pool.minAgents': 1,
    'pool.maxAgents': 1,
  };
  const { settings, problems } = readSettings((key) => values[key]);
  if (problems.length) throw new CliError(problems.join('\n'), EXIT_USAGE);
  const service = new AgentPoolService({
    settings,
    workspace: { name: `agent-pool run (${basename(process.cwd())})`, folders: [process.cwd()] },
    extensionVersion: 'cli',
    cwd: process.cwd(),
    // dist/cli.js runs beside dist/demo-agent.js and dist/guardian.js
    distDirectory: dirname(__filename),
    spawnBlockedReason: () => undefined,
    log: (level, message) => {
      if (level === 'error' || level === 'warn' || options.verbose) io.err(`[${level}] ${message}\n`);
    },
  });
  const abort = new AbortController();
  const cancel = () => abort.abort();
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    await service.start();
    if (service.registrationProblem) io.err(`agent-pool: running unregistered: ${service.registrationProblem}\n`);
    service.profile(options.profile);
    if (abort.signal.aborted) return EXIT_CANCELLED;
    await service.startPool(options.profile, { minAgents: 1, maxAgents: 1, autoscale: false });
    if (abort.signal.aborted) return EXIT_CANCELLED;
    let endsWithNewline = true;
    const result = await service.run(prompt, {
      profiles: [options.profile],
      sessionKey: options.session,
      signal: abort.signal,
      task: prompt.slice(0, 60),
      onEvent: (event) => {
        if (event.kind !== 'text' || !event.text) return;
        io.out(event.text);
        endsWithNewline = event.text.endsWith('\n');
      },
    });
    if (!endsWithNewline) io.out('\n');
    io.err(`${result.stopReason} · agent ${result.agentId} (${result.profile}) · ${(result.totalMs / 1000).toFixed(2)} s\n`);
    if (result.stopReason === 'cancelled') return EXIT_CANCELLED;
    return result.stopReason === 'end_turn' ? EXIT_OK : EXIT_FAILURE;
  } catch (error) {
    if (abort.signal.aborted) return EXIT_CANCELLED;
    if (error instanceof CliError) throw error;
    throw new CliError(errorMessage(error));
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    await service.shutdown();
  }
}

/** A JSON file in the format of the agentPool.profiles setting: `{ "<name>": { "adapter": …, "command": … } }`. */
function readProfilesFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError(`--profiles ${path}: ${errorMessage(error)}. Give a JSON file in the format of the agentPool.profiles setting.`, EXIT_USAGE);
  }
}
