import { AgentPoolError, type SurfaceAdvice } from '../common/errors';

/**
 * Why a pool refused or failed work. Every waiting error names its cause, because a bare
 * "timeout" hides whether the budget, the circuit or plain load is to blame.
 */
export type PoolErrorCode =
  | 'POOL_CLOSED'
  | 'POOL_QUEUE_FULL'
  | 'POOL_ACQUIRE_TIMEOUT'
  | 'POOL_ACQUIRE_CANCELLED'
  | 'POOL_CIRCUIT_OPEN'
  | 'POOL_INVALID_OPTION'
  | 'POOL_LEASE_RELEASED'
  | 'POOL_AGENT_LOST'
  /** A request targeted an agent id the pool does not have. */
  | 'POOL_AGENT_NOT_FOUND'
  /** A request targeted an agent that is stopping or being replaced under a new id. */
  | 'POOL_AGENT_UNAVAILABLE'
  /** The pool has maxAgents agents: nothing more can start until one stops or the limit rises. */
  | 'POOL_AT_LIMIT'
  /** The agent sent no event at all within the first-event deadline (network, sign-in, rate limit). */
  | 'AGENT_FIRST_EVENT_TIMEOUT'
  | 'TURN_IDLE_TIMEOUT'
  | 'TURN_DEADLINE_EXCEEDED';

/** What kept a request waiting: each maps to a different remedy for the user. */
export type WaitReason = 'budget-exhausted' | 'circuit-open' | 'all-agents-busy' | 'agents-starting' | 'target-agent-busy' | 'agents-dedicated';

export class PoolError extends AgentPoolError {
  readonly waitReason: WaitReason | undefined;

  constructor(
    override readonly code: PoolErrorCode,
    message: string,
    options?: { cause?: unknown; waitReason?: WaitReason; advice?: SurfaceAdvice },
  ) {
    super(code, message, options);
    this.name = 'PoolError';
    this.waitReason = options?.waitReason;
  }
}

/** The `code` of any error that carries one (adapters' AgentErrors, budget errors, ours). */
export function errorCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
