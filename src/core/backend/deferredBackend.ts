import { BudgetError, type AgentBudget, type BudgetSnapshot } from '../budget/budget';
import { errorMessage } from '../common/errors';
import { Emitter } from '../common/event';
import type { AggregateView } from '../metrics/aggregate';
import { MetricsAggregator } from '../metrics/aggregator';
import type { MetricsView } from '../metrics/transport';
import type { CleanupReport, InstanceRegistry, InstanceView, RegistryChange } from '../registry/types';
import type { CoordinationBackend } from './backend';

/**
 * A backend that is still connecting (the etcd bundle loads and leases after activation returns, so
 * activation stays fast). Everything it hands out works at once: the registry shows no window and
 * the metrics an empty view until the backend is there; registering and the budget wait for it. A
 * backend that cannot open at all (bad settings) leaves a budget that grants nothing and says why.
 */
export function deferredBackend(opening: Promise<CoordinationBackend>, info: { kind: CoordinationBackend['kind']; directory: string; describe: string }): CoordinationBackend {
  let ready: CoordinationBackend | undefined;
  let failure: string | undefined;
  const settled = opening.then(
    (backend) => (ready = backend),
    (error: unknown) => {
      failure = errorMessage(error);
      return undefined;
    },
  );
  const need = async (): Promise<CoordinationBackend> => {
    const backend = await settled;
    if (!backend) throw new Error(`the ${info.kind} backend could not open: ${failure}`);
    return backend;
  };
  return {
    kind: info.kind,
    directory: info.directory,
    get describe() {
      return ready?.describe ?? info.describe;
    },
    createRegistry: (options) => {
      const changed = new Emitter<RegistryChange>();
      let real: InstanceRegistry | undefined;
      const realOne = need().then((backend) => {
        real = backend.createRegistry(options);
        real.onDidChange((change) => changed.fire(change));
        return real;
      });
      realOne.catch(() => undefined);
      const registry: InstanceRegistry = {
        get directory() {
          return real?.directory ?? info.describe;
        },
        get selfId() {
          return real?.selfId;
        },
        register: async (registerInfo) => (await realOne).register(registerInfo),
        setLifecycle: async (lifecycle) => (await realOne).setLifecycle(lifecycle),
        deregister: async () => (real ? real.deregister() : undefined),
        instances: (): InstanceView[] => real?.instances() ?? [],
        refresh: async () => (await realOne).refresh(),
        cleanup: async (cleanupOptions): Promise<CleanupReport> => (await realOne).cleanup(cleanupOptions),
        declaredCaps: async () => (await realOne).declaredCaps(),
        onDidChange: changed.event,
        dispose: () => {
          real?.dispose();
          void realOne.then((opened) => opened.dispose(), () => undefined);
          changed.dispose();
        },
      };
      return registry;
    },
    openBudget: async (options) => {
      const backend = await settled;
      if (!backend) return unavailableBudget(options.maxAgentsTotal, `The Agent Pool ${info.kind} backend could not open: ${failure}`);
      return backend.openBudget(options);
    },
    createMetricsView: (options) => {
      const placeholder = new MetricsAggregator({ directory: info.directory });
      const changed = new Emitter<AggregateView>();
      let real: MetricsView | undefined;
      const view: MetricsView = {
        get current() {
          return real?.current ?? placeholder.current;
        },
        onDidChange: changed.event,
        start: async () => {
          const backend = await settled;
          if (!backend) return placeholder.current;
          real ??= backend.createMetricsView(options);
          real.onDidChange((next) => changed.fire(next));
          return real.start();
        },
        refresh: async () => (real ? real.refresh() : placeholder.current),
        dispose: () => {
          real?.dispose();
          placeholder.dispose();
          changed.dispose();
        },
      };
      return view;
    },
    createMetricsPublisher: (options) => {
      if (!ready) throw new Error(`the ${info.kind} backend is not open yet`);
      return ready.createMetricsPublisher(options);
    },
    dispose: () => void settled.then((backend) => backend?.dispose()),
  };
}

/** Grants nothing and says why: what a backend that cannot open leaves behind (fail safe). */
function unavailableBudget(cap: number, reason: string): AgentBudget {
  const changed = new Emitter<BudgetSnapshot>();
  const snapshot = (): BudgetSnapshot => ({ cap, configuredCap: cap, used: 0, usedHere: 0, holders: [], unavailableReason: `${reason}. No agent starts until it is fixed.` });
  const refuse = async (): Promise<never> => {
    throw new BudgetError('BUDGET_UNAVAILABLE', snapshot().unavailableReason!);
  };
  return { acquire: refuse, tryAcquire: refuse, snapshot, onDidChange: changed.event, dispose: () => changed.dispose() };
}
