import { Emitter, type Disposable, type Event } from '../common/event';
import type { PoolEvent } from '../pool/events';
import type { InstanceLifecycle } from '../registry/types';

/**
 * The window's lifecycle in the registry (seed 004): ACTIVE while any of its agents works on a
 * lease, IDLE otherwise, COMPLETING once shutdown begins (and never back). Counted from the pools'
 * state events, so no snapshot is built per turn; writes are coalesced: one in flight at a time,
 * and the last wanted value is what lands.
 */
export class WindowLifecycle implements Disposable {
  private busy = 0;
  private wanted: InstanceLifecycle = 'IDLE';
  private written: InstanceLifecycle;
  private writing: Promise<void> | undefined;
  private readonly subscription: Disposable;
  private readonly changed = new Emitter<InstanceLifecycle>();
  /** Fires with each new wanted lifecycle (before it is written). */
  readonly onDidChange = this.changed.event;

  constructor(
    events: Event<PoolEvent>,
    private readonly write: (lifecycle: InstanceLifecycle) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    initial: InstanceLifecycle = 'IDLE',
  ) {
    this.written = initial;
    this.subscription = events((event) => {
      if (event.type !== 'agent-state' || event.from === event.to) return;
      if (event.to === 'busy') this.busy++;
      else if (event.from === 'busy') this.busy = Math.max(0, this.busy - 1);
      else return;
      if (this.wanted !== 'COMPLETING') this.want(this.busy > 0 ? 'ACTIVE' : 'IDLE');
    });
  }

  get current(): InstanceLifecycle {
    return this.wanted;
  }

  /** Shutdown has begun: resolves once COMPLETING is in the registry. */
  completing(): Promise<void> {
    this.want('COMPLETING');
    return this.settled();
  }

  /** Resolves once the wanted lifecycle is written. */
  async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  private want(lifecycle: InstanceLifecycle): void {
    if (this.wanted === lifecycle) return;
    this.wanted = lifecycle;
    this.changed.fire(lifecycle);
    if (!this.writing && this.written !== lifecycle) this.writing = this.flush();
  }

  private async flush(): Promise<void> {
    try {
      while (this.written !== this.wanted) {
        const next = this.wanted;
        try {
          await this.write(next);
        } catch (error) {
          this.onError(error);
        }
        this.written = next;
      }
    } finally {
      this.writing = undefined;
    }
  }
}
