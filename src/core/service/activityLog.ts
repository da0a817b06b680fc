/**
 * The log lines a person follows: what the pools did (scale, restart, recycle, pause) and which
 * windows came, went or stopped answering. Pure: events and registry views in, lines out; the
 * service writes them. Nothing here logs prompt text or agent output (keys can hide in both).
 */
import type { PoolEvent } from '../pool/events';
import type { InstanceView } from '../registry/types';

export type ActivityLevel = 'debug' | 'info' | 'warn';

export interface ActivityLine {
  level: ActivityLevel;
  message: string;
}

export function describePoolEvent(event: PoolEvent, clockTime: (wallMs: number) => string): ActivityLine | undefined {
  switch (event.type) {
    case 'scale':
      return { level: 'info', message: `pool ${event.profile}: scaled ${event.direction} from ${event.from} to ${event.to} agents (${event.reason})` };
    case 'restart':
      return { level: 'info', message: `agent ${event.agentId} (${event.profile}): restarting after it stopped unexpectedly, try ${event.attempt}, in ${Math.round(event.delayMs)} ms` };
    case 'recycle':
      return { level: 'info', message: `agent ${event.agentId} (${event.profile}): recycled (${RECYCLE_REASONS[event.reason]})` };
    case 'recycle-capped':
      return {
        level: 'warn',
        message: `agent ${event.agentId} (${event.profile}): keeps being recycled because ${RECYCLE_REASONS[event.reason]} (setting ${RECYCLE_SETTINGS[event.reason]}): ${event.count} times within an hour, the most agentPool.recycle.maxPerHour allows. It is kept running; recycling resumes at ${clockTime(event.resumesAt)}. Raise the limit, or look at what the agent does.`,
      };
    case 'circuit':
      // The cause was logged where it happened; this line says what it means for the pool.
      if (event.state === 'open') return { level: 'info', message: `pool ${event.profile}: paused, it takes no prompt until its next try${retrySuffix(event, clockTime)}` };
      if (event.state === 'closed') return { level: 'info', message: `pool ${event.profile}: serving again` };
      return { level: 'debug', message: `pool ${event.profile}: trying once more` };
    case 'agent-spawned':
      return { level: 'debug', message: `agent ${event.agentId} (${event.profile}): started, pid ${event.pid}, ready in ${Math.round(event.startMs)} ms` };
    case 'agent-state':
      return { level: 'debug', message: `agent ${event.agentId} (${event.profile}): ${event.from ?? 'new'} → ${event.to}${event.reason ? ` (${event.reason})` : ''}` };
    default:
      return undefined;
  }
}

const RECYCLE_REASONS: Record<Extract<PoolEvent, { type: 'recycle' }>['reason'], string> = {
  age: 'it reached its maximum age',
  turns: 'it reached its maximum number of turns',
  memory: 'it used more memory than allowed',
  cpu: 'it kept the CPU busy while idle',
  manual: 'asked by the user',
};

const RECYCLE_SETTINGS: Record<Extract<PoolEvent, { type: 'recycle-capped' }>['reason'], string> = {
  age: 'agentPool.recycle.maxAgeMinutes',
  turns: 'agentPool.recycle.maxTurns',
  memory: 'agentPool.recycle.maxMemoryMB',
  cpu: 'agentPool.recycle.maxIdleCpuPercent',
};

function retrySuffix(event: Extract<PoolEvent, { type: 'circuit' }>, clockTime: (wallMs: number) => string): string {
  return event.retryAt !== undefined ? ` at ${clockTime(event.retryAt)}` : '';
}

/** Remembers each other window's health and says when one joins, leaves, stops or starts answering. */
export class WindowWatcher {
  private readonly known = new Map<string, { health: InstanceView['health']; name: string }>();

  update(instances: readonly InstanceView[]): ActivityLine[] {
    const lines: ActivityLine[] = [];
    const seen = new Set<string>();
    for (const instance of instances) {
      if (instance.isSelf) continue;
      const { id, workspaceName, pid, hostname } = instance.record;
      seen.add(id);
      const name = `"${workspaceName || 'no folder'}" (pid ${pid} on ${hostname})`;
      const before = this.known.get(id)?.health;
      this.known.set(id, { health: instance.health, name });
      if (before === instance.health) continue;
      if (before === undefined && instance.health === 'live') lines.push({ level: 'info', message: `window ${name} joined` });
      else if (instance.health === 'unresponsive') lines.push({ level: 'info', message: `window ${name} is not responding: no heartbeat for ${Math.round(instance.heartbeatAgeMs / 1000)} s` });
      else if (instance.health === 'dead') lines.push({ level: 'info', message: `window ${name} has gone (its process ended without leaving)` });
      else if (before !== undefined) lines.push({ level: 'info', message: `window ${name} is responding again` });
    }
    for (const [id, { name }] of [...this.known]) {
      if (seen.has(id)) continue;
      this.known.delete(id);
      lines.push({ level: 'info', message: `window ${name} left` });
    }
    return lines;
  }
}
