import type { AgentConnection, AgentStreamEvent, PromptResult } from '../agents/adapter';
import type { Clock, TimerHandle } from '../common/clock';
import { PoolError } from './errors';

export interface TurnLimits {
  idleWatchdogMs: number;
  turnDeadlineMs: number;
  cancelGraceMs: number;
  clock: Clock;
}

export interface TurnRequest {
  sessionId: string;
  text: string;
  onEvent?: (event: AgentStreamEvent) => void;
  signal?: AbortSignal;
}

/** Filled in by superviseTurn: fails the turn at once (e.g. the user restarted the agent). */
export interface TurnControl {
  interrupt?: (error: Error) => void;
}

export interface TurnHooks {
  /** The idle watchdog or the deadline fired: the turn is already failed; the agent must be cancelled then killed. */
  onExpired(kind: 'idle' | 'deadline', promptSettled: Promise<void>): void;
  /** The caller cancelled and the agent did not answer within the grace: it must be killed. */
  onCancelUnanswered(): void;
}

/**
 * Runs one prompt under supervision. A single timer serves both the idle watchdog (no event for
 * `idleWatchdogMs`) and the deadline: it re-arms itself for whichever comes first, so a chatty turn
 * costs no timer churn per event.
 */
export function superviseTurn(connection: AgentConnection, request: TurnRequest, limits: TurnLimits, hooks: TurnHooks, control?: TurnControl): Promise<PromptResult> {
  const { clock } = limits;
  const startedAt = clock.monotonicNow();
  const deadlineAt = startedAt + limits.turnDeadlineMs;
  let lastEventAt = startedAt;
  let firstEventAt: number | undefined;
  let text = '';
  let settled = false;
  let watchdog: TimerHandle | undefined;
  let cancelGrace: TimerHandle | undefined;

  return new Promise<PromptResult>((resolve, reject) => {
    const finish = (error: unknown, result?: PromptResult) => {
      if (settled) return;
      settled = true;
      if (watchdog) clock.clearTimeout(watchdog);
      if (cancelGrace) clock.clearTimeout(cancelGrace);
      request.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(result!);
    };
    if (control) control.interrupt = (error) => finish(error);

    const arm = () => {
      const due = Math.min(lastEventAt + limits.idleWatchdogMs, deadlineAt);
      watchdog = clock.setTimeout(check, Math.max(0, due - clock.monotonicNow()));
      watchdog.unref?.();
    };
    const check = () => {
      watchdog = undefined;
      if (settled) return;
      const now = clock.monotonicNow();
      if (now >= deadlineAt) expire('deadline', now);
      else if (now - lastEventAt >= limits.idleWatchdogMs) expire('idle', now);
      else arm();
    };
    const expire = (kind: 'idle' | 'deadline', now: number) => {
      const profile = connection.profile.name;
      const error =
        kind === 'idle'
          ? new PoolError(
              'TURN_IDLE_TIMEOUT',
              `Agent "${profile}" sent nothing for ${Math.round(now - lastEventAt)} ms (idle watchdog ${limits.idleWatchdogMs} ms); the turn was cancelled and the agent is being restarted.`,
            )
          : new PoolError(
              'TURN_DEADLINE_EXCEEDED',
              `Agent "${profile}" did not finish the turn within ${limits.turnDeadlineMs} ms; the turn was cancelled and the agent is being restarted.`,
            );
      finish(error);
      // Built only here: most turns never expire, and the hot path should not pay for it.
      hooks.onExpired(
        kind,
        prompt.then(
          () => undefined,
          () => undefined,
        ),
      );
    };

    const onAbort = () => {
      if (settled || cancelGrace) return;
      void connection.cancel(request.sessionId).catch(() => undefined);
      cancelGrace = clock.setTimeout(() => {
        if (settled) return;
        finish(undefined, { stopReason: 'cancelled', text, totalMs: clock.monotonicNow() - startedAt, firstEventMs: firstEventMs() });
        hooks.onCancelUnanswered();
      }, limits.cancelGraceMs);
    };
    const firstEventMs = () => (firstEventAt === undefined ? undefined : firstEventAt - startedAt);

    const prompt = connection.prompt({
      sessionId: request.sessionId,
      text: request.text,
      onEvent: (event) => {
        lastEventAt = clock.monotonicNow();
        firstEventAt ??= lastEventAt;
        if (event.kind === 'text' && event.text) text += event.text;
        if (!settled) request.onEvent?.(event);
      },
    });
    prompt.then(
      (result) => finish(undefined, { ...result, firstEventMs: result.firstEventMs ?? firstEventMs() }),
      (error) => finish(error),
    );

    arm();
    if (request.signal?.aborted) onAbort();
    else request.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
