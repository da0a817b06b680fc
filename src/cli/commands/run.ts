import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { AgentProfile, AgentStreamEvent, PermissionPolicy, PromptResult } from '../../core/agents/adapter';
import { unfrozenClock } from '../../core/common/unfrozenClock';
import { describeFirstOutputWait, FirstOutputWatch, type FirstOutputWait } from '../../core/pool/firstOutputWait';
import type { Lease, TurnResult } from '../../core/pool/lease';
import { resolveProfiles } from '../../core/agents/profiles';
import { AgentPoolError, describeFor, errorMessage } from '../../core/common/errors';
import { readSettings } from '../../core/config/settings';
import type { BudgetSnapshot } from '../../core/budget/budget';
import { errorCode } from '../../core/pool/errors';
import { AgentPoolService } from '../../core/service/agentPoolService';
import { ETCD_PASSWORD_ENV, openBackend } from '../../core/backend/openBackend';
import type { CliContext } from '../context';
import { ExitCode, exitCodeForError, exitCodeForSignal, exitCodeForStopReason } from '../exitCodes';
import { CliError } from '../io';
import { createRunOutput, type QueueOwner, type RunFormat, type RunOutput, type RunStart, type RunSummary } from '../output/runOutput';
import { emptyRunOutcome } from '../output/runEvents';
import { CliPermissions, terminalAsk } from '../permissions';
import { choosePromptSource, readPrompt, type PromptSource } from '../promptSource';

export interface RunOptions {
  profile: string;
  session?: string;
  /** End the --session conversation after the prompt. */
  closeSession?: boolean;
  profiles?: string;
  verbose?: boolean;
  /** Milliseconds to wait for an agent slot before giving up with exit code 3. */
  wait?: number;
  /** This run's cap on the machine-wide budget (agentPool.maxAgentsTotal). */
  maxAgentsTotal?: number;
  format?: RunFormat;
  /** `-f FILE`; `-` reads stdin. */
  file?: string;
  /** Overrides the profile's permissionPolicy for this run. */
  permissions?: PermissionPolicy;
  /** Milliseconds the agent may take to send its first event (agentPool.pool.firstEventTimeoutSeconds). */
  firstEventTimeout?: number;
}

/**
 * `agent-pool run`: a headless pool that registers in the same directory as the VS Code windows
 * (so it shows up in their status bar and view), takes a slot of the shared budget, reports the
 * turn in the chosen format, and deregisters. Ctrl-C or SIGTERM cancels the turn; the agent is
 * then stopped. Whatever happens, the output ends with `done` and the exit code of ../exitCodes.
 */
export async function runCommand(context: CliContext, options: RunOptions, promptArgument: string | undefined): Promise<number> {
  const startedAt = performance.now();
  const output = createRunOutput(options.format ?? 'text', context.io, startedAt);
  let service: AgentPoolService | undefined;
  const signals = new SignalWatch(() => service, context.io);
  const heldBack: HeldBack[] = [];
  const summary: RunSummary = { ...emptyRunOutcome(ExitCode.ok), start: null };
  try {
    const source = choosePromptSource({ argument: promptArgument, file: options.file });
    const prompt = await readPrompt(source);
    const result = await runTurn(context, options, prompt, source, output, signals.abort.signal, summary, heldBack, (created) => (service = created));
    printHeldBack(context.io, heldBack);
    summary.stopReason = result.stopReason;
    summary.text = result.text;
    summary.firstEventMs = result.firstEventMs ?? null;
    summary.costUsd = result.usage?.costUsd ?? null;
    summary.inputTokens = result.usage?.inputTokens ?? null;
    summary.outputTokens = result.usage?.outputTokens ?? null;
    summary.contextUsed = result.usage?.contextUsed ?? null;
    summary.contextSize = result.usage?.contextSize ?? null;
    summary.exitCode = exitCodeForStopReason(result.stopReason, signals.received);
  } catch (error) {
    printHeldBack(context.io, heldBack, error);
    if (signals.received) {
      summary.exitCode = exitCodeForSignal(signals.received);
    } else {
      summary.exitCode = error instanceof CliError ? error.exitCode : exitCodeForError(error);
      const message = error instanceof CliError ? error.message : describeFor(error, 'cli') + cliHint(error);
      summary.error = { code: error instanceof CliError ? null : (errorCode(error) ?? null), message };
      context.io.err(`agent-pool: ${message}\n`);
    }
  } finally {
    // Signals stay handled until the record and the slots are released: a second one only hurries.
    signals.shuttingDown = true;
    await service?.shutdown();
    signals.dispose();
  }
  summary.durationMs = performance.now() - startedAt;
  output.done(summary);
  return summary.exitCode;
}

async function runTurn(
  context: CliContext,
  options: RunOptions,
  prompt: string,
  source: PromptSource,
  output: RunOutput,
  signal: AbortSignal,
  summary: RunSummary,
  heldBack: HeldBack[],
  created: (service: AgentPoolService) => void,
): Promise<PromptResult> {
  const { io } = context;
  const distDirectory = dirname(__filename); // dist/cli.js runs beside dist/demo-agent.js and dist/guardian.js
  const userProfiles = options.profiles ? readProfilesFile(options.profiles) : {};
  const profile = findProfile(userProfiles, options.profile, distDirectory);
  const policy = options.permissions ?? profile.permissionPolicy;
  // stdin can answer a question only when it is a terminal that the prompt did not come from.
  const canAsk = process.stdin.isTTY === true && source.kind !== 'stdin';
  const permissions = new CliPermissions(policy, () => output, canAsk ? terminalAsk(process.stdin, process.stderr) : undefined);
  for (const warning of context.vscodeSettings?.warnings ?? []) io.err(`agent-pool: warning: ${warning}\n`);
  const values: Record<string, unknown> = {
    // The machine-wide settings of the user's VS Code (the cap above all), so this run declares what the windows do.
    ...context.vscodeSettings?.values,
    registryDirectory: context.directory,
    // Every request goes through CliPermissions, which applies `policy` and reports it.
    profiles: { ...(userProfiles as object), [profile.name]: { ...settingsEntry(profile), permissionPolicy: 'ask' } },
    'pool.minAgents': 1,
    'pool.maxAgents': 1,
    ...(options.wait === undefined ? {} : { 'pool.acquireTimeoutMs': options.wait }),
    ...(options.maxAgentsTotal === undefined ? {} : { maxAgentsTotal: options.maxAgentsTotal }),
    ...(options.firstEventTimeout === undefined ? {} : { 'pool.firstEventTimeoutSeconds': Math.max(1, Math.ceil(options.firstEventTimeout / 1000)) }),
  };
  const { settings, problems } = readSettings((key) => values[key]);
  if (problems.length) throw new CliError(problems.join('\n'), ExitCode.usage);
  // Held back until start-up has shown whether the directory is usable at all.
  let startLog: string[] | undefined = [];
  const backendLog = (level: 'info' | 'warn' | 'error') => (message: string) => {
    if (level === 'info' && !options.verbose) return;
    io.err(`agent-pool: ${level === 'info' ? '' : `${level}: `}${message}\n`);
  };
  let backend;
  try {
    backend = await openBackend(settings, {
      directory: context.directory,
      password: process.env[ETCD_PASSWORD_ENV],
      log: { info: backendLog('info'), warn: backendLog('warn'), error: backendLog('error') },
    });
  } catch (error) {
    throw new CliError(`${errorMessage(error)}\nOn the command line these settings come from VS Code's settings.json (see the README).`, ExitCode.usage);
  }
  const service = new AgentPoolService({
    backend,
    settings,
    workspace: { name: `agent-pool run (${basename(process.cwd())})`, folders: [process.cwd()] },
    extensionVersion: 'cli',
    cwd: process.cwd(),
    distDirectory,
    spawnBlockedReason: () => undefined,
    permissionHandler: permissions.handler,
    // Failures the pool logs and also throws are told once, by the thrown error; the rest print as they come.
    log: (level, message, error) => {
      if (level !== 'error' && level !== 'warn' && !options.verbose) return;
      if (!options.verbose && error !== undefined) {
        heldBack.push({ level, error });
        return;
      }
      const line = options.verbose ? `[${level}] ${message}\n` : `agent-pool: ${level === 'warn' ? 'warning: ' : ''}${message}\n`;
      if (startLog) startLog.push(line);
      else io.err(line);
    },
  });
  created(service);
  await service.start();
  // Without a usable directory there is no budget to take a slot from: say so now, not after --wait,
  // and once: the registry's and budget's own lines about the same directory are dropped.
  const budgetProblem = service.budget().unavailableReason;
  if (budgetProblem) throw new CliError(`${budgetProblem}\nOn the command line, choose another registry directory with --dir <path>.`, ExitCode.failure);
  for (const line of startLog) io.err(line);
  startLog = undefined;
  if (service.registrationProblem) output.notice(`agent-pool: running unregistered: ${service.registrationProblem}`);
  const capLine = describeCap(service.budget(), options.verbose === true);
  if (capLine) output.notice(capLine);
  throwIfAborted(signal);
  // From here until the agent's first event, a terminal shows "waiting for <profile>'s first output · N s".
  const onWaiting = (options.format ?? 'text') === 'text' ? waitingLine(io) : undefined;
  // Counted on the clock the first-event deadline uses: a Ctrl-Z'd run resumes its count, it does not jump.
  const waiting = onWaiting ? new FirstOutputWatch(unfrozenClock, profile.name, onWaiting) : undefined;
  try {
    return await startAndRun(service, profile, prompt, options, output, signal, summary, policy, waiting);
  } finally {
    waiting?.dispose();
  }
}

async function startAndRun(
  service: AgentPoolService,
  profile: AgentProfile,
  prompt: string,
  options: RunOptions,
  output: RunOutput,
  signal: AbortSignal,
  summary: RunSummary,
  policy: PermissionPolicy,
  waiting: FirstOutputWatch | undefined,
): Promise<PromptResult> {
  await service.startPool(profile.name, { minAgents: 1, maxAgents: 1, autoscale: false });
  throwIfAborted(signal);
  const request = { profiles: [profile.name], signal, task: prompt.slice(0, 60) };
  const turn = async (lease: Lease): Promise<TurnResult> => {
    const start: RunStart = { profile: profile.name, agent: lease.agentId, conversation: options.session ?? null, adapter: profile.adapter, permissions: policy };
    summary.start = start;
    waiting?.clear();
    output.started(start);
    waiting?.redraw();
    const onEvent = (event: AgentStreamEvent) => output.agentEvent(event);
    return lease.prompt(prompt, { signal, onEvent: waiting ? waiting.wrap(onEvent) : onEvent });
  };
  const key = options.session;
  if (key === undefined) {
    if (options.closeSession) throw new CliError('--close-session needs --session <key>: the conversation to end.', ExitCode.usage);
    const lease = await service.acquire(request);
    try {
      return await turn(lease);
    } finally {
      lease.release();
    }
  }
  // The conversation's record: an earlier run's or a window's conversation resumes on this run's agent.
  // Turns of it running or waiting in other windows or processes: this prompt waits its turn, in order of arrival.
  const wait = { signal, timeoutMs: options.wait, onQueued: (running: QueueOwner | undefined, ahead: number) => output.queued(key, running ?? null, ahead) };
  const result = await service.conversations.withLease({ ...request, sessionKey: key, wait }, turn);
  const turns = (await service.conversations.get(key))?.turns;
  output.notice(conversationLine(key, result, turns));
  if (options.closeSession) {
    await service.conversations.close(key);
    output.notice(`conversation "${key}": closed`);
  }
  return result;
}

/**
 * "waiting for claude's first output · 25 s", redrawn in place on stderr when it is a terminal
 * (stdout carries the answer, so the line never mixes with it); nothing in a pipe or a log.
 */
function waitingLine(io: CliContext['io']): ((wait: FirstOutputWait | undefined) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  let shown = false;
  return (wait) => {
    if (wait) {
      io.err(`\r\x1b[2K${describeFirstOutputWait(wait)}`);
      shown = true;
    } else if (shown) {
      io.err('\r\x1b[2K');
      shown = false;
    }
  };
}

/** What happened to the conversation's context, in words: said every time, so a lost context is never silent. */
function conversationLine(key: string, result: TurnResult, turns: number | undefined): string {
  const turn = turns === undefined ? '' : ` (turn ${turns})`;
  switch (result.continuity) {
    case 'context-lost':
      return `conversation "${key}": its earlier context is gone: ${result.contextLost}; this turn started a new session ${result.sessionId}${turn}`;
    case 'resumed':
    case 'loaded':
      return `conversation "${key}": ${result.continuity} session ${result.sessionId}${turn}`;
    case 'started':
      return `conversation "${key}": new session ${result.sessionId}${turn}`;
    default:
      return `conversation "${key}": session ${result.sessionId}${turn}`;
  }
}

/**
 * The cap this run enforces: said when it is not the run's own (a window declared a smaller one) or
 * with --verbose, so a run waiting for a slot says why.
 */
function describeCap(budget: BudgetSnapshot, verbose: boolean): string | undefined {
  const own = budget.configuredCap ?? budget.cap;
  if (own === budget.cap && !verbose) return undefined;
  const where = own === budget.cap ? "this run's own" : `the smallest any open window or run declares; this run's is ${own}`;
  return `agent-pool: agent cap ${budget.cap} (${where}), ${budget.used} running`;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new AgentPoolError('CLI_CANCELLED', 'cancelled');
}

/** The profile as the run will use it; an unknown name is a usage error listing the known ones. */
function findProfile(userProfiles: unknown, name: string, distDirectory: string): AgentProfile {
  let table: Record<string, AgentProfile>;
  try {
    table = resolveProfiles(userProfiles, distDirectory);
  } catch (error) {
    throw new CliError(`${errorMessage(error)}\nFix the file given with --profiles.`, ExitCode.usage);
  }
  const profile = table[name];
  if (!profile) {
    throw new CliError(`There is no agent profile "${name}". Known profiles: ${Object.keys(table).join(', ')}. Add one with --profiles FILE.`, ExitCode.usage);
  }
  return profile;
}

/** A resolved profile in the format of the agentPool.profiles setting. */
function settingsEntry(profile: AgentProfile): Record<string, unknown> {
  const { name: _name, dialect, ...entry } = profile;
  return dialect === undefined ? entry : { ...entry, dialect };
}

/**
 * Ctrl-C and SIGTERM for the whole run, cleanup included. The first cancels the turn (the agent
 * is then stopped gracefully); a second, or one during the cleanup, kills the agents at once. No
 * signal ever cuts the cleanup short: the handlers stay until the window record and the budget
 * slots are released, and the exit code says which signal came first (130 or 143).
 */
class SignalWatch {
  readonly abort = new AbortController();
  received: NodeJS.Signals | undefined;
  shuttingDown = false;
  private readonly onSignal = (signal: NodeJS.Signals) => this.handle(signal);

  constructor(
    private readonly service: () => AgentPoolService | undefined,
    private readonly io: CliContext['io'],
  ) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  private handle(signal: NodeJS.Signals): void {
    const first = this.received === undefined;
    this.received ??= signal;
    if (first && !this.shuttingDown) {
      this.abort.abort();
      return;
    }
    const service = this.service();
    if (!service) return;
    this.io.err('agent-pool: stopping the agent now; releasing its budget slot and this run\'s record…\n');
    void service.hurryShutdown();
  }
}

interface HeldBack {
  level: string;
  error: unknown;
}

/** Logged failures that the error ending the run does not already report (nothing is lost, nothing said twice). */
function printHeldBack(io: CliContext['io'], heldBack: HeldBack[], thrown?: unknown): void {
  const told = causesOf(thrown);
  for (const line of heldBack.splice(0)) if (!told.has(line.error)) io.err(`agent-pool: ${line.level === 'warn' ? 'warning: ' : ''}${describeFor(line.error, 'cli')}\n`);
}

/** The error and the errors it wraps (`cause`), to tell which logged failures it already reports. */
function causesOf(error: unknown): Set<unknown> {
  const causes = new Set<unknown>();
  for (let current = error; current !== undefined && current !== null && !causes.has(current); current = (current as { cause?: unknown }).cause) {
    causes.add(current);
    if (typeof current !== 'object') break;
  }
  return causes;
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
