import { basename, dirname } from 'node:path';
import { resolveProfiles } from '../../core/agents/profiles';
import { errorMessage } from '../../core/common/errors';
import { readSettings } from '../../core/config/settings';
import { formatContextUse, formatCostUsd } from '../../core/conversations/conversation';
import type { ConversationRecord } from '../../core/conversations/conversationRecord';
import { ConversationStore } from '../../core/conversations/conversationStore';
import { formatDuration } from '../../core/metrics/formats';
import { AgentPoolService } from '../../core/service/agentPoolService';
import type { CliContext } from '../context';
import { ExitCode, exitCodeForError } from '../exitCodes';
import { CliError, table } from '../io';

/** A conversation as `conversations list|show --json` print it: stable field names, times as ISO strings. */
export interface ConversationJson {
  name: string;
  profile: string;
  /** The agent session that holds the context, and the window or process that served the last turn. */
  agent: { sessionId: string | null; servedBy: ConversationRecord['owner'] };
  turns: number;
  usage: ConversationRecord['usage'];
  lastUsedAt: string;
  createdAt: string;
  workspace: ConversationRecord['workspace'];
  /** Times the conversation went on without its earlier context, and why the last time. */
  contextLost: number;
  contextLostReason: string | null;
}

export function conversationJson(record: ConversationRecord): ConversationJson {
  return {
    name: record.key,
    profile: record.profile,
    agent: { sessionId: record.sessionId ?? null, servedBy: record.owner },
    turns: record.turns,
    usage: record.usage,
    lastUsedAt: new Date(record.lastUsedAt).toISOString(),
    createdAt: new Date(record.createdAt).toISOString(),
    workspace: record.workspace,
    contextLost: record.contextLost,
    contextLostReason: record.contextLostReason ?? null,
  };
}

function openStore(context: CliContext): ConversationStore {
  const log = (message: string) => context.io.err(`agent-pool: ${message}\n`);
  return new ConversationStore({ directory: context.directory, log: { info: () => undefined, warn: log, error: log } });
}

function ago(ms: number): string {
  return `${formatDuration(Math.max(0, Date.now() - ms))} ago`;
}

function cost(usage: ConversationRecord['usage']): string {
  return formatCostUsd(usage.costUsd);
}

/** `agent-pool conversations list`: every conversation of the registry directory, most recently used first. */
export async function conversationsListCommand(context: CliContext, options: { json?: boolean }): Promise<number> {
  const { io, directory } = context;
  const records = await openStore(context).list();
  if (options.json) {
    io.out(`${JSON.stringify(records.map(conversationJson), null, 2)}\n`);
    return ExitCode.ok;
  }
  if (records.length === 0) {
    io.err(`No conversation in ${directory}.\nStart one with: agent-pool run --profile demo --session NAME "prompt"\n`);
    return ExitCode.ok;
  }
  io.out(
    table([
      ['NAME', 'PROFILE', 'TURNS', 'CONTEXT', 'COST', 'LAST USED', 'SERVED BY'],
      ...records.map((record) => [
        record.key,
        record.profile,
        String(record.turns),
        formatContextUse(record.usage) ?? '-',
        cost(record.usage),
        ago(record.lastUsedAt),
        record.owner.label,
      ]),
    ]),
  );
  return ExitCode.ok;
}

export async function readConversationOrFail(context: CliContext, name: string): Promise<ConversationRecord> {
  const record = await openStore(context).read(name);
  if (!record) {
    throw new CliError(`No conversation "${name}" in ${context.directory}.\nList the conversations with: agent-pool conversations list`, ExitCode.failure);
  }
  return record;
}

/** `agent-pool conversations show NAME`. */
export async function conversationsShowCommand(context: CliContext, name: string, options: { json?: boolean }): Promise<number> {
  const record = await readConversationOrFail(context, name);
  if (options.json) {
    context.io.out(`${JSON.stringify(conversationJson(record), null, 2)}\n`);
    return ExitCode.ok;
  }
  const usage = record.usage;
  const lines = [
    `Conversation "${record.key}"`,
    `  profile     ${record.profile}`,
    `  session     ${record.sessionId ?? '(none yet)'}`,
    `  turns       ${record.turns}`,
    `  context     ${formatContextUse(usage) ?? '-'}`,
    `  tokens      ${usage.inputTokens} in / ${usage.outputTokens} out`,
    `  cost        ${cost(usage)}`,
    `  last used   ${new Date(record.lastUsedAt).toISOString()} (${ago(record.lastUsedAt)}) by ${record.owner.label} (pid ${record.owner.pid})`,
    `  created     ${new Date(record.createdAt).toISOString()}`,
    `  workspace   ${record.workspace.name}${record.workspace.folders.length ? ` (${record.workspace.folders.join(', ')})` : ''}`,
  ];
  if (record.contextLost > 0) lines.push(`  context lost ${record.contextLost} time(s); last: ${record.contextLostReason ?? 'unknown reason'}`);
  context.io.out(`${lines.join('\n')}\n`);
  return ExitCode.ok;
}

/**
 * `agent-pool conversations close NAME`: ends the conversation like the VS Code command does. A
 * headless pool of its profile resumes the session so `session/close` reaches the agent (where the
 * agent supports it), then the record goes. Waits for a turn of it in this process; a turn in
 * another window or process makes it fail with the owner's name (exit 3: try again later).
 */
export async function conversationsCloseCommand(context: CliContext, name: string): Promise<number> {
  const { io } = context;
  const record = await readConversationOrFail(context, name);
  const distDirectory = dirname(__filename);
  const values: Record<string, unknown> = { registryDirectory: context.directory, 'pool.minAgents': 1, 'pool.maxAgents': 1 };
  const { settings } = readSettings((key) => values[key]);
  const known = record.profile in resolveProfiles(settings.profiles, distDirectory);
  const service = new AgentPoolService({
    settings,
    workspace: { name: `agent-pool conversations close (${basename(process.cwd())})`, folders: [process.cwd()] },
    extensionVersion: 'cli',
    cwd: process.cwd(),
    distDirectory,
    spawnBlockedReason: () => undefined,
    log: (level, message) => {
      if (level === 'error') io.err(`agent-pool: ${message}\n`);
    },
  });
  try {
    await service.start();
    // Without its profile here the agent session cannot be reached: the record still goes.
    if (known) await service.startPool(record.profile, { minAgents: 1, maxAgents: 1, autoscale: false });
    await service.conversations.close(name);
  } catch (error) {
    throw new CliError(`Could not close conversation "${name}": ${errorMessage(error)}`, exitCodeForError(error));
  } finally {
    await service.shutdown();
  }
  io.out(`Closed conversation "${name}" (${record.profile}, ${record.turns} turn${record.turns === 1 ? '' : 's'})${known ? '' : `; profile "${record.profile}" is unknown here, so its agent session was left to the agent`}.\n`);
  return ExitCode.ok;
}
