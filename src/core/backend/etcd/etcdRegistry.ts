import * as os from 'node:os';
import { AgentPoolError, errorMessage } from '../../common/errors';
import { Emitter, type Disposable } from '../../common/event';
import type { CoreLogger } from '../../common/logger';
import { currentProcessIdentity } from '../../process/identity';
import { newInstanceRecord, validateRecord } from '../../registry/instanceRecord';
import type { CleanupReport, InstanceLifecycle, InstanceRecord, InstanceRegistry, InstanceView, RegisterInfo, RegistryChange } from '../../registry/types';
import { b64, text, type EtcdGateway, type KeyValue, type Watching } from './gateway';
import { prefixRange, type EtcdKeys } from './keys';
import type { LeaseSession } from './leaseSession';

/**
 * The registry of participants on etcd: each record lives at `<prefix>/windows/<id>`, bound to its
 * participant's lease, so keepalives replace heartbeats and a participant that falls silent leaves
 * one TTL later on every machine at once. A watch on the prefix gives joined and left; every
 * (re)connection lists first and watches from the listing's revision + 1.
 */
export class EtcdRegistry implements InstanceRegistry {
  private readonly changed = new Emitter<RegistryChange>();
  readonly onDidChange = this.changed.event;
  private readonly records = new Map<string, InstanceRecord>();
  private record: InstanceRecord | undefined;
  private watching: Watching | undefined;
  private readonly subscriptions: Disposable[] = [];
  private disposed = false;
  private readonly hostname: string;

  constructor(
    private readonly options: { gateway: EtcdGateway; session: LeaseSession; keys: EtcdKeys; log: CoreLogger; describe: string; hostname?: string },
  ) {
    this.hostname = options.hostname ?? os.hostname();
    this.subscriptions.push(
      options.session.onDidChange((state) => {
        if (state.kind !== 'held') return;
        // A new lease: our record died with the old one. Put it back, then re-list and watch.
        void this.putRecord()
          .then(() => this.relist())
          .catch((error) => options.log.warn(`re-registering on etcd: ${errorMessage(error)}`));
      }),
    );
  }

  get directory(): string {
    return this.options.describe;
  }

  get selfId(): string | undefined {
    return this.record?.id;
  }

  async start(): Promise<void> {
    await this.relist();
  }

  async register(info: RegisterInfo): Promise<InstanceRecord> {
    if (this.disposed) throw new AgentPoolError('REGISTRY_CLOSED', 'the instance registry is closed');
    if (this.record) return this.record;
    const self = await currentProcessIdentity();
    const now = Date.now();
    this.record = newInstanceRecord(info, self, this.hostname, now);
    try {
      await this.putRecord();
      await this.relist();
    } catch (error) {
      throw new AgentPoolError('REGISTRY_UNAVAILABLE', `This window could not register on etcd (${this.options.describe}): ${errorMessage(error)}`, { cause: error });
    }
    return this.record;
  }

  async setLifecycle(lifecycle: InstanceLifecycle): Promise<void> {
    if (!this.record || this.record.lifecycle === lifecycle) return;
    this.record = { ...this.record, lifecycle, heartbeatSeq: this.record.heartbeatSeq + 1, heartbeatAt: Date.now() };
    await this.putRecord();
  }

  async deregister(): Promise<void> {
    const record = this.record;
    if (!record) return;
    this.record = undefined;
    await this.options.gateway.call('/v3/kv/deleterange', { key: b64(this.options.keys.window(record.id)) }).catch(() => undefined);
  }

  instances(): InstanceView[] {
    return [...this.records.values()].map((record) => ({ record, health: 'live', heartbeatAgeMs: 0, isSelf: record.id === this.record?.id }));
  }

  refresh(): Promise<void> {
    return this.relist().catch((error) => this.options.log.warn(`listing windows on etcd: ${errorMessage(error)}`));
  }

  /** Nothing to clean: a participant's keys go with its lease, on every machine. */
  async cleanup(): Promise<CleanupReport> {
    await this.refresh();
    return { removedDead: [], removedStale: [], reclaimedSlots: [], killedOrphans: [], notKilled: [] };
  }

  async declaredCaps(): Promise<number[]> {
    const records = await this.list();
    return [...records.values()].flatMap((record) => (record.maxAgentsTotal === undefined ? [] : [record.maxAgentsTotal]));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.watching?.cancel();
    for (const subscription of this.subscriptions) subscription.dispose();
    void this.deregister();
    this.changed.dispose();
  }

  private async putRecord(): Promise<void> {
    const record = this.record;
    const leaseId = this.options.session.provableLease();
    if (!record || !leaseId) return;
    await this.options.gateway.call('/v3/kv/put', { key: b64(this.options.keys.window(record.id)), value: b64(JSON.stringify(record)), lease: leaseId });
  }

  private async list(): Promise<Map<string, InstanceRecord> & { revision?: string }> {
    const answer = await this.options.gateway.call<{ header?: { revision?: string }; kvs?: KeyValue[] }>('/v3/kv/range', prefixRange(this.options.keys.windows));
    const records: Map<string, InstanceRecord> & { revision?: string } = new Map();
    for (const kv of answer.kvs ?? []) {
      const record = this.parse(kv);
      if (record) records.set(record.id, record);
    }
    records.revision = answer.header?.revision ?? '0';
    return records;
  }

  private parse(kv: KeyValue): InstanceRecord | undefined {
    const id = text(kv.key).slice(this.options.keys.windows.length);
    try {
      const checked = validateRecord(JSON.parse(text(kv.value)), id, { anyId: true });
      return checked.ok ? checked.value : undefined;
    } catch {
      return undefined;
    }
  }

  private async relist(): Promise<void> {
    if (this.disposed) return;
    const listed = await this.list();
    for (const [id, record] of listed) this.apply(id, record);
    for (const id of [...this.records.keys()]) if (!listed.has(id)) this.apply(id, undefined);
    this.watching?.cancel();
    this.watching = this.options.gateway.watch(
      { create_request: { ...prefixRange(this.options.keys.windows), start_revision: String(BigInt(listed.revision ?? '0') + 1n) } },
      (result) => {
        for (const event of result.events ?? []) {
          const id = text(event.kv.key).slice(this.options.keys.windows.length);
          this.apply(id, event.type === 'DELETE' ? undefined : this.parse(event.kv));
        }
      },
      () => {
        if (!this.disposed) setTimeout(() => void this.relist().catch(() => undefined), 250).unref();
      },
    );
  }

  private apply(id: string, record: InstanceRecord | undefined): void {
    const before = this.records.get(id);
    if (!record) {
      if (!before) return;
      this.records.delete(id);
      if (!this.disposed) this.changed.fire({ kind: 'left', id });
      return;
    }
    this.records.set(id, record);
    if (this.disposed) return;
    const view: InstanceView = { record, health: 'live', heartbeatAgeMs: 0, isSelf: id === this.record?.id };
    if (!before) this.changed.fire({ kind: 'joined', instance: view });
    else if (JSON.stringify(before) !== JSON.stringify(record)) this.changed.fire({ kind: 'changed', instance: view });
  }
}
