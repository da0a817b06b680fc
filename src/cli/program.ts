import { Command, CommanderError, Option } from 'commander';
import { errorMessage } from '../core/common/errors';
import { resolveRegistryDirectory } from '../core/directory/layout';
import { cliBackend } from './backend';
import { cleanupCommand } from './commands/cleanup';
import { conversationsCloseCommand, conversationsListCommand, conversationsShowCommand } from './commands/conversations';
import { conversationsExportCommand, type ExportOptions } from './commands/conversationsExport';
import { instancesCommand } from './commands/instances';
import { metricsCommand } from './commands/metrics';
import { runCommand, type RunOptions } from './commands/run';
import { serveMetricsCommand } from './commands/serveMetrics';
import { statusCommand } from './commands/status';
import { untilSignal, type CliContext, type CliDependencies } from './context';
import { ExitCode, exitCodeForError, exitCodeSummary } from './exitCodes';
import { CliError, processIo, type CliIo } from './io';
import { parseCount, parseDuration, parsePort } from './options';
import { RUN_FORMATS } from './output/runOutput';
import { EXPORT_FORMATS } from './output/transcriptExport';
import { usageErrorEvent } from './output/usageError';
import { PERMISSION_POLICIES } from './permissions';
import { readVscodeSettings, type VscodeSettings } from './vscodeSettings';

declare const AGENT_POOL_VERSION: string | undefined;

export const defaultDependencies: CliDependencies = {
  openRegistry: async (directory) => cliBackend({ directory }).createRegistry({}),
  untilInterrupted: untilSignal,
};

/** Runs the CLI and returns its exit code (the table in ./exitCodes). Never throws. */
export async function runCli(argv: string[], io: CliIo = processIo(), deps: CliDependencies = defaultDependencies): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(io, deps, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const informational = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
      if (informational) return ExitCode.ok;
      // A script reading `run --format json` gets its last line even when the command line is wrong.
      usageErrorEvent(argv.slice(2), error.message, io);
      return ExitCode.usage;
    }
    if (error instanceof CliError) {
      io.err(`agent-pool: ${error.message}\n`);
      return error.exitCode;
    }
    const classified = exitCodeForError(error);
    if (classified !== ExitCode.failure) {
      io.err(`agent-pool: ${errorMessage(error)}\n`);
      return classified;
    }
    io.err(`agent-pool: unexpected error: ${errorMessage(error)}\nPlease report it with the command you ran.\n`);
    return ExitCode.failure;
  }
}

function buildProgram(io: CliIo, deps: CliDependencies, setExitCode: (code: number) => void): Command {
  const program = new Command('agent-pool');
  // Inherited by every subcommand created below: errors throw (exit codes are ours) and go to io.
  program
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) })
    .showHelpAfterError('(add --help for usage)')
    .description('See and manage the AI coding agents of every VS Code window on this machine.')
    .version(typeof AGENT_POOL_VERSION === 'string' ? AGENT_POOL_VERSION : '0.1.0')
    .option('--dir <path>', 'registry directory (default: the one VS Code uses, setting agentPool.registryDirectory)')
    .addHelpText('after', `\nExit codes: ${exitCodeSummary()} (the README's table says what each means).`);

  let vscodeSettings: VscodeSettings | undefined;
  const context = (): CliContext => {
    vscodeSettings ??= readVscodeSettings();
    const setting = vscodeSettings.values.registryDirectory as string | undefined;
    return { io, directory: resolveRegistryDirectory(program.opts<{ dir?: string }>().dir ?? setting), deps, vscodeSettings };
  };
  const action =
    <A extends unknown[]>(run: (...args: A) => Promise<number>) =>
    async (...args: A) => setExitCode(await run(...args));

  program
    .command('status')
    .description('one line: agents here/all (windows), busy, merged p95 latency, error rate')
    .addOption(new Option('--compact', 'short form, e.g. A:12(4)').conflicts('json'))
    .option('--json', 'totals and windows as JSON')
    .option('--watch', 'keep running and redraw on every change (Ctrl-C to stop)')
    .action(action((options: { compact?: boolean; json?: boolean; watch?: boolean }) => statusCommand(context(), options)));

  program
    .command('instances')
    .description('list the registered windows with their state and heartbeat age')
    .option('--json', 'as JSON')
    .action(action((options: { json?: boolean }) => instancesCommand(context(), options)));

  program
    .command('cleanup')
    .description('remove dead and stale windows, free their budget slots, stop their orphan agents; says what it removed')
    .option('--max-age <duration>', 'also remove windows with no proof of life older than this (e.g. 30m, 2h, 1d)', parseDuration)
    .option('--json', 'the report as JSON')
    .action(action((options: { maxAge?: number; json?: boolean }) => cleanupCommand(context(), options)));

  program
    .command('metrics')
    .description('metrics of all windows (or one): per window and pool, latency percentiles, tokens')
    .addOption(new Option('--prometheus', 'Prometheus text exposition format').conflicts('json'))
    .option('--json', 'everything as JSON, histograms included')
    .option('--instance <id>', 'only this window (an id from "agent-pool instances", or its end)')
    .action(action((options: { prometheus?: boolean; json?: boolean; instance?: string }) => metricsCommand(context(), options)));

  program
    .command('serve-metrics')
    .description('serve /metrics for Prometheus, on 127.0.0.1 only (Ctrl-C to stop)')
    .requiredOption('--port <n>', 'TCP port on 127.0.0.1 (0 picks a free one)', parsePort)
    .action(action((options: { port: number }) => serveMetricsCommand(context(), options)));

  program
    .command('run')
    .description('run a prompt through a headless pool that registers like a window, streaming the answer')
    .requiredOption('--profile <name>', 'agent profile: a built-in one (demo, claude, codex, gemini, opencode, aider, …) or one from --profiles')
    .option('--session <key>', 'continue (or start) the conversation with this key: an earlier run\'s, another window\'s, resumed on this run\'s agent')
    .option('--close-session', 'end the --session conversation after this prompt (its agent session is closed too)')
    .option('--profiles <file>', 'JSON file of extra profiles, in the format of the agentPool.profiles setting')
    .option('-f, --file <path>', 'read the prompt from this file ("-" for stdin); multi-line, directives included')
    .addOption(new Option('--format <format>', 'text: the answer as it streams; json: one event per line (schema in the README); quiet: only the final answer').choices(RUN_FORMATS).default('text'))
    .addOption(new Option('--permissions <policy>', "how to answer the agent's permission requests (default: the profile's permissionPolicy); ask needs a terminal and refuses without one").choices(PERMISSION_POLICIES))
    .option('--verbose', 'also print the pool\'s info and debug log to stderr')
    .option('--wait <duration>', 'how long to wait for an agent slot (default 60s, setting agentPool.pool.acquireTimeoutMs) or for a --session conversation busy elsewhere (default: until its turn ends) before giving up with exit code 3', parseDuration)
    .option('--max-agents-total <n>', "the cap this run declares on agents across all windows (default: agentPool.maxAgentsTotal from VS Code's settings.json, else 8); the smallest cap any open window or run declares is the one enforced", parseCount)
    .option('--first-event-timeout <duration>', 'how long the agent may stay silent after the prompt before the turn fails with exit code 3 (default 45s, setting agentPool.pool.firstEventTimeoutSeconds)', parseDuration)
    .argument('[prompt]', 'the prompt (quote it); "-" reads it from stdin')
    .addHelpText('after', '\nThe answer streams to stdout; tool calls, permissions and a summary line go to stderr. Ctrl-C cancels the turn (exit 130), SIGTERM too (exit 143); a second one stops the agent at once.')
    .action(action((prompt: string | undefined, options: RunOptions) => runCommand(context(), options, prompt)));

  const conversations = program
    .command('conversations')
    .description('the conversations every window and `run --session` share: list, show, export, close');
  conversations
    .command('list')
    .description('every conversation of the registry directory, most recently used first')
    .option('--json', 'as JSON: name, profile, agent session, turns, usage, last use')
    .action(action((options: { json?: boolean }) => conversationsListCommand(context(), options)));
  conversations
    .command('show')
    .description('one conversation: profile, session, turns, context in use, tokens, cost, last use')
    .argument('<name>', 'the conversation (its --session name)')
    .option('--json', 'as JSON')
    .action(action((name: string, options: { json?: boolean }) => conversationsShowCommand(context(), name, options)));
  conversations
    .command('export')
    .description("a conversation's transcript: every turn's prompt, answer, tool calls, stop reason and usage, and where its context was lost")
    .argument('<name>', 'the conversation (its --session name)')
    .addOption(new Option('--format <format>', 'markdown for people, json for programs (schema in the README)').choices(EXPORT_FORMATS).default('markdown'))
    .option('-o, --output <file>', 'write it to this file (created private to you) instead of stdout')
    .action(action((name: string, options: ExportOptions) => conversationsExportCommand(context(), name, options)));
  conversations
    .command('close')
    .description('end a conversation: its agent session is closed where the agent supports it, and its record and transcript removed')
    .argument('<name>', 'the conversation (its --session name)')
    .action(action((name: string) => conversationsCloseCommand(context(), name)));

  return program;
}
