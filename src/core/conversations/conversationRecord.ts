import { createHash } from 'node:crypto';
import type { ConversationInfo, ConversationUsage } from './conversation';

export const CONVERSATION_SCHEMA = 'agent-pool/conversation';
export const CONVERSATION_VERSION = 1;

/**
 * One conversation as every window and the CLI see it: a private file in the registry directory's
 * `conversations/` folder. It holds what another process needs to continue the conversation (the
 * profile and the agent's session id) and what people look at (usage, last use, the workspace).
 */
export interface ConversationRecord {
  schema: typeof CONVERSATION_SCHEMA;
  version: typeof CONVERSATION_VERSION;
  key: string;
  profile: string;
  sessionId: string | undefined;
  workspace: { name: string; folders: string[] };
  turns: number;
  usage: ConversationUsage;
  createdAt: number;
  lastUsedAt: number;
  contextLost: number;
  contextLostReason?: string;
  /** The window or process that ran the last turn (registry id, or `pid <n>` when unregistered). */
  owner: { instanceId: string; pid: number; label: string };
}

/** The file name of a key: a hash, since keys are whatever people type ("fix the login bug", "../x"). */
export function recordFileName(key: string): string {
  return `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`;
}

export function recordOf(info: ConversationInfo, workspace: ConversationRecord['workspace'], owner: ConversationRecord['owner']): ConversationRecord {
  return {
    schema: CONVERSATION_SCHEMA,
    version: CONVERSATION_VERSION,
    key: info.key,
    profile: info.profile,
    sessionId: info.sessionId,
    workspace,
    turns: info.turns,
    usage: info.usage,
    createdAt: info.createdAt,
    lastUsedAt: info.lastUsedAt,
    contextLost: info.contextLost,
    contextLostReason: info.contextLostReason,
    owner,
  };
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isString = (value: unknown): value is string => typeof value === 'string';

/** Checks a record read from the shared directory field by field: anything else in there is a bad file. */
export function validateRecord(value: unknown): { ok: true; value: ConversationRecord } | { ok: false; detail: string } {
  if (!value || typeof value !== 'object') return { ok: false, detail: 'not an object' };
  const record = value as Partial<ConversationRecord>;
  if (record.schema !== CONVERSATION_SCHEMA) return { ok: false, detail: `schema ${JSON.stringify(record.schema)}` };
  if (record.version !== CONVERSATION_VERSION) return { ok: false, detail: `version ${JSON.stringify(record.version)}` };
  if (!isString(record.key) || record.key.length === 0) return { ok: false, detail: 'key' };
  if (!isString(record.profile) || record.profile.length === 0) return { ok: false, detail: 'profile' };
  if (record.sessionId !== undefined && !isString(record.sessionId)) return { ok: false, detail: 'sessionId' };
  const workspace = record.workspace;
  if (!workspace || !isString(workspace.name) || !Array.isArray(workspace.folders) || !workspace.folders.every(isString)) return { ok: false, detail: 'workspace' };
  if (!isNumber(record.turns) || !isNumber(record.createdAt) || !isNumber(record.lastUsedAt) || !isNumber(record.contextLost)) return { ok: false, detail: 'turns, times or contextLost' };
  const usage = record.usage;
  if (!usage || !isNumber(usage.costUsd) || !isNumber(usage.inputTokens) || !isNumber(usage.outputTokens)) return { ok: false, detail: 'usage' };
  for (const optional of [usage.sessionCostUsd, usage.contextUsed, usage.contextSize]) if (optional !== undefined && !isNumber(optional)) return { ok: false, detail: 'usage' };
  const owner = record.owner;
  if (!owner || !isString(owner.instanceId) || !isNumber(owner.pid) || !isString(owner.label)) return { ok: false, detail: 'owner' };
  return { ok: true, value: record as ConversationRecord };
}
