import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { errorMessage } from '../../core/common/errors';
import { errorCode } from '../../core/pool/errors';
import { readSettings } from '../../core/config/settings';
import { AgentPoolService } from '../../core/service/agentPoolService';
import type { CliContext } from '../context';
import { ExitCode, exitCodeForError, exitCodeForSignal, exitCodeForStopReason } from '../exitCodes';
import { CliError } from '../io';

export interface RunOptions {
  profile: string;
  session?: string;
  profiles?: string;
  verbose?: boolean;
  /** Milliseconds to wait for an agent slot before giving up with exit code 3. */
  wait?: number;
  /** This run's cap on the machine-wide budget (agentPool.maxAgentsTotal). */
  maxAgentsTotal?: number;
}

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
    ...(options.wait === undefined ? {} : { 'pool.acquireTimeoutMs': options.wait }),
    ...(options.maxAgentsTotal === undefined ? {} : { maxAgentsTotal: options.maxAgentsTotal }),
  };
  const { settings, problems } = readSettings((key) => values[key]);
  if (problems.length) throw new CliError(problems.join('\n'), ExitCode.usage);
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
  let signal: NodeJS.Signals | undefined;
  const cancel = (received: NodeJS.Signals) => {
    signal ??= received;
    abort.abort();
  };
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  const cancelled = () => exitCodeForSignal(signal ?? 'SIGINT');
  try {
    await service.start();
    if (service.registrationProblem) io.err(`agent-pool: running unregistered: ${service.registrationProblem}\n`);
    service.profile(options.profile);
    if (abort.signal.aborted) return cancelled();
    await service.startPool(options.profile, { minAgents: 1, maxAgents: 1, autoscale: false });
    if (abort.signal.aborted) return cancelled();
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
    return exitCodeForStopReason(result.stopReason, signal);
  } catch (error) {
    if (abort.signal.aborted) return cancelled();
    if (error instanceof CliError) throw error;
    throw new CliError(errorMessage(error) + cliHint(error), exitCodeForError(error));
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    await service.shutdown();
  }
}

/** The core's messages name VS Code settings; on the command line the same knobs are flags. */
function cliHint(error: unknown): string {
  const code = errorCode(error);
  if (code === 'POOL_ACQUIRE_TIMEOUT' || code === 'BUDGET_EXHAUSTED') {
    return '\nOn the command line: wait longer with --wait <duration>, or allow more agents for this run with --max-agents-total <n>.';
  }
  return '';
}

/** A JSON file in the format of the agentPool.profiles setting: `{ "<name>": { "adapter": …, "command": … } }`. */
function readProfilesFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError(`--profiles ${path}: ${errorMessage(error)}. Give a JSON file in the format of the agentPool.profiles setting.`, ExitCode.usage);
  }
}
