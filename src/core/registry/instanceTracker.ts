import type { InstanceHealth, InstanceRecord, InstanceView, RegistryChange } from './types';

interface Tracked {
  record: InstanceRecord;
  /** Reader's monotonic time when heartbeatSeq was last seen to move (or first seen). */
  seqMovedAt: number;
  health: InstanceHealth;
  /** Everything but the heartbeat: a heartbeat alone is not a change worth an event. */
  signature: string;
}

export interface ObservedInstance {
  record: InstanceRecord;
  /** True only on proof (pid + start time gone); such windows are usually reclaimed before they get here. */
  provablyDead: boolean;
}

/**
 * Turns successive reads of the registry directory into health and change events. Pure: no I/O,
 * time passed in from the reader's monotonic clock, so heartbeat staleness never compares wall
 * clocks of different processes and a ±1 h wall-clock jump changes nothing.
 */
export class InstanceTracker {
  private readonly tracked = new Map<string, Tracked>();

  constructor(private readonly unresponsiveAfterMs: number) {}

  update(observed: Map<string, ObservedInstance>, now: number, selfId: string | undefined): RegistryChange[] {
    const changes: RegistryChange[] = [];
    for (const id of [...this.tracked.keys()]) {
      if (!observed.has(id)) {
        this.tracked.delete(id);
        changes.push({ kind: 'left', id });
      }
    }
    for (const [id, { record, provablyDead }] of observed) {
      const previous = this.tracked.get(id);
      const seqMovedAt = !previous || previous.record.heartbeatSeq !== record.heartbeatSeq ? now : previous.seqMovedAt;
      const health = this.judge(id === selfId, provablyDead, now - seqMovedAt);
      const current: Tracked = { record, seqMovedAt, health, signature: signatureOf(record, health) };
      this.tracked.set(id, current);
      if (!previous) {
        changes.push({ kind: 'joined', instance: this.view(current, now, selfId) });
      } else if (health === 'unresponsive' && previous.health !== 'unresponsive') {
        changes.push({ kind: 'unresponsive', instance: this.view(current, now, selfId) });
      } else if (current.signature !== previous.signature) {
        changes.push({ kind: 'changed', instance: this.view(current, now, selfId) });
      }
    }
    return changes;
  }

  views(now: number, selfId: string | undefined): InstanceView[] {
    return [...this.tracked.values()]
      .map((tracked) => this.view(tracked, now, selfId))
      .sort((a, b) => a.record.id.localeCompare(b.record.id));
  }

  /** Milliseconds this reader has watched the id's heartbeat stand still; undefined if never seen. */
  heartbeatAge(id: string, now: number): number | undefined {
    const tracked = this.tracked.get(id);
    return tracked ? now - tracked.seqMovedAt : undefined;
  }

  private judge(isSelf: boolean, provablyDead: boolean, heartbeatAgeMs: number): InstanceHealth {
    if (isSelf) return 'live';
    if (provablyDead) return 'dead';
    return heartbeatAgeMs >= this.unresponsiveAfterMs ? 'unresponsive' : 'live';
  }

  private view(tracked: Tracked, now: number, selfId: string | undefined): InstanceView {
    const isSelf = tracked.record.id === selfId;
    // Health is re-judged on read so that a window going quiet shows up without waiting for a scan.
    const heartbeatAgeMs = Math.max(0, now - tracked.seqMovedAt);
    const health = tracked.health === 'dead' ? 'dead' : this.judge(isSelf, false, heartbeatAgeMs);
    return { record: tracked.record, health, heartbeatAgeMs, isSelf };
  }
}

function signatureOf(record: InstanceRecord, health: InstanceHealth): string {
  const { heartbeatSeq: _seq, heartbeatAt: _at, ...rest } = record;
  return `${health}|${JSON.stringify(rest)}`;
}
