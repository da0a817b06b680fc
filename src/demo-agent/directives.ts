/**
 * What the demo agent does for one prompt. Chosen by a first prompt line such as
 * `/demo latency=200 chunks=5`, with defaults from DEMO_AGENT_<KEY> environment variables
 * (`DEMO_AGENT_LATENCY=200`, `DEMO_AGENT_HANG=1`, ...). No directive and no variable: the
 * zero-latency echo (one chunk, no timer), which is what benchmarks drive.
 */
export interface TurnBehaviour {
  /** Total delay of the answer in ms, spread evenly before each chunk. */
  latency: number;
  /** The echo is streamed in this many agent_message_chunk updates. */
  chunks: number;
  /** Never answer; only session/cancel ends the turn (with `cancelled`). */
  hang: boolean;
  /** Exit with `exitCode` after sending this many chunks (undefined: no crash). */
  crashAfterChunks: number | undefined;
  exitCode: number;
  /** Ask session/request_permission for a tool call of this kind before answering. */
  permission: string | undefined;
  /** Allocate and keep this many MB (cumulative over turns). */
  memoryMb: number;
  /** Answer with the JSON-RPC error real agents send. */
  error: 'auth' | 'rate-limit' | 'internal' | undefined;
  /** Send one agent_thought_chunk first. */
  thought: boolean;
  /** Report a tool_call and its completion before answering. */
  tool: boolean;
  /** Send a plan of this many entries (first in progress, the rest pending) before answering; 0: none. */
  planEntries: number;
  /** End the turn with this stop reason instead of end_turn (refusal, max_tokens, max_turn_requests). */
  stopReason: 'end_turn' | 'refusal' | 'max_tokens' | 'max_turn_requests';
  /** Answer with the earlier prompts of this session, one per line (what a model would remember). */
  recall: boolean;
  /** Cost of this turn in USD, reported as the session's running total in a usage_update; undefined: no report. */
  usageCostUsd: number | undefined;
  /** Start this many threads that keep a core busy each, from now until the process exits, idle or not (a runaway agent). */
  spinThreads: number;
}

export interface ParsedPrompt {
  behaviour: TurnBehaviour;
  /** The prompt text without the directive line: what gets echoed. */
  text: string;
}

const DIRECTIVE_PREFIX = '/demo';
const KNOWN_KEYS = ['latency', 'chunks', 'hang', 'crash', 'exitcode', 'permission', 'memory', 'error', 'thought', 'tool', 'plan', 'stop', 'recall', 'usage', 'spin'] as const;
/** Keys that are flags: an environment variable of 0 or false leaves them off. */
const FLAG_KEYS: ReadonlySet<string> = new Set(['hang', 'thought', 'tool', 'recall']);
/** What a turn with a bare `usage` directive costs. */
export const DEFAULT_TURN_COST_USD = 0.01;
type DirectiveKey = (typeof KNOWN_KEYS)[number];

export class DirectiveError extends Error {}

function toNonNegativeInteger(key: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new DirectiveError(`demo directive ${key}=${value}: expected a whole number >= 0`);
  return number;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value !== '0' && value.toLowerCase() !== 'false' && value !== '';
}

function applyDirective(behaviour: TurnBehaviour, key: DirectiveKey, value: string | undefined): void {
  switch (key) {
    case 'latency':
      behaviour.latency = toNonNegativeInteger(key, value ?? '0');
      break;
    case 'chunks':
      behaviour.chunks = Math.max(1, toNonNegativeInteger(key, value ?? '1'));
      break;
    case 'hang':
      behaviour.hang = value === undefined || isTrue(value);
      break;
    case 'crash':
      behaviour.crashAfterChunks = value === undefined ? 1 : toNonNegativeInteger(key, value);
      break;
    case 'exitcode':
      behaviour.exitCode = toNonNegativeInteger(key, value ?? '3');
      break;
    case 'permission':
      behaviour.permission = value ?? 'edit';
      break;
    case 'memory':
      behaviour.memoryMb = toNonNegativeInteger(key, value ?? '0');
      break;
    case 'error':
      if (value !== 'auth' && value !== 'rate-limit' && value !== 'internal') {
        throw new DirectiveError(`demo directive error=${value}: expected auth, rate-limit or internal`);
      }
      behaviour.error = value;
      break;
    case 'thought':
      behaviour.thought = value === undefined || isTrue(value);
      break;
    case 'tool':
      behaviour.tool = value === undefined || isTrue(value);
      break;
    case 'plan':
      behaviour.planEntries = value === undefined ? 3 : toNonNegativeInteger(key, value);
      break;
    case 'stop':
      if (value !== 'end_turn' && value !== 'refusal' && value !== 'max_tokens' && value !== 'max_turn_requests') {
        throw new DirectiveError(`demo directive stop=${value}: expected end_turn, refusal, max_tokens or max_turn_requests`);
      }
      behaviour.stopReason = value;
      break;
    case 'recall':
      behaviour.recall = value === undefined || isTrue(value);
      break;
    case 'spin':
      behaviour.spinThreads = value === undefined ? 1 : toNonNegativeInteger(key, value);
      break;
    case 'usage': {
      const cost = value === undefined ? DEFAULT_TURN_COST_USD : Number(value);
      if (!Number.isFinite(cost) || cost < 0) throw new DirectiveError(`demo directive usage=${value}: expected a cost in USD >= 0, e.g. usage=0.01`);
      behaviour.usageCostUsd = cost;
      break;
    }
  }
}

/** Defaults from the environment: DEMO_AGENT_LATENCY, DEMO_AGENT_CHUNKS, DEMO_AGENT_HANG, ... */
export function behaviourFromEnvironment(env: NodeJS.ProcessEnv): TurnBehaviour {
  const behaviour: TurnBehaviour = {
    latency: 0,
    chunks: 1,
    hang: false,
    crashAfterChunks: undefined,
    exitCode: 3,
    permission: undefined,
    memoryMb: 0,
    error: undefined,
    thought: false,
    tool: false,
    planEntries: 0,
    stopReason: 'end_turn',
    recall: false,
    usageCostUsd: undefined,
    spinThreads: 0,
  };
  for (const key of KNOWN_KEYS) {
    const value = env[`DEMO_AGENT_${key.toUpperCase()}`];
    if (value === undefined || value === '') continue;
    if (FLAG_KEYS.has(key) && !isTrue(value)) continue;
    applyDirective(behaviour, key, value);
  }
  return behaviour;
}

/** Splits `/demo key=value flag ...` off the first line; unknown keys are an error the agent reports. */
export function parsePrompt(text: string, defaults: TurnBehaviour): ParsedPrompt {
  const behaviour = { ...defaults };
  if (!text.startsWith(DIRECTIVE_PREFIX)) return { behaviour, text };
  const newline = text.indexOf('\n');
  const directiveLine = newline === -1 ? text : text.slice(0, newline);
  if (directiveLine.length > DIRECTIVE_PREFIX.length && directiveLine[DIRECTIVE_PREFIX.length] !== ' ') return { behaviour, text };
  for (const token of directiveLine.slice(DIRECTIVE_PREFIX.length).split(/\s+/)) {
    if (!token) continue;
    const equals = token.indexOf('=');
    const key = (equals === -1 ? token : token.slice(0, equals)).toLowerCase();
    const value = equals === -1 ? undefined : token.slice(equals + 1);
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      throw new DirectiveError(`unknown demo directive "${key}"; known: ${KNOWN_KEYS.join(', ')}`);
    }
    applyDirective(behaviour, key as DirectiveKey, value);
  }
  return { behaviour, text: newline === -1 ? '' : text.slice(newline + 1) };
}

/** Cuts `text` into `count` pieces of near-equal length (some may be empty for short texts). */
export function splitIntoChunks(text: string, count: number): string[] {
  if (count <= 1) return [text];
  const size = Math.ceil(text.length / count);
  const chunks: string[] = [];
  for (let i = 0; i < count; i++) chunks.push(text.slice(i * size, (i + 1) * size));
  return chunks;
}
