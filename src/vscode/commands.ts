import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as vscode from 'vscode';
import { errorMessage } from '../core/common/errors';
import { integerRow } from '../core/config/settingsTable';
import { formatJson } from '../core/metrics/formats';
import { toPrometheus } from '../core/metrics/prometheus';
import type { AgentPoolService } from '../core/service/agentPoolService';
import type { RecentLog } from './agentLogs';
import { Commands, CONFIG_SECTION } from './constants';
import { shortContextUse } from './conversationNodes';
import { profileItems } from './profilePicker';
import { plural } from './statusModel';
import { parseLimits } from './limits';
import type { MetricsPanel } from './metricsPanel';
import { runPrompt, type RunPromptArgs, type RunPromptDeps } from './runPrompt';
import type { TreeNode } from './treeModel';

export interface CommandDeps {
  service: AgentPoolService;
  log: vscode.LogOutputChannel;
  recentLog: RecentLog;
  runPrompt: Omit<RunPromptDeps, 'service'>;
  metricsPanel: MetricsPanel;
  spawnBlockedReason: () => string | undefined;
  selectProfile: (name?: string) => Promise<string | undefined>;
  refresh: () => Promise<void>;
  /** Called once a conversation was closed (the tree re-reads the records, its title goes). */
  onDidCloseConversation: (key: string) => void;
  conversationTitle: (key: string) => string | undefined;
}

/** Every command in one table; handlers stay short and delegate to the service. */
export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { service } = deps;
  const handlers: Record<string, (...args: any[]) => unknown> = {
    [Commands.startPool]: async (profile?: string) => {
      const name = profile ?? (await pickProfile(service, 'Start a pool for…'));
      if (!name) return;
      await service.startPool(name);
      deps.log.info(`pool ${name} started by the user`);
    },
    [Commands.stopPool]: async (target?: TreeNode | string) => {
      const name = profileOf(target) ?? (await pickRunningPool(service, 'Stop which pool?'));
      if (!name) return;
      await service.stopPool(name);
      deps.log.info(`pool ${name} stopped by the user`);
    },
    [Commands.scalePool]: async (target?: TreeNode | string, limits?: { minAgents?: number; maxAgents?: number }) => {
      const name = profileOf(target) ?? (await pickRunningPool(service, 'Scale which pool?'));
      if (!name) return;
      const pool = service.pools().find((p) => p.profile === name);
      const chosen = limits ?? (await askLimits(name, pool?.minAgents ?? 0, pool?.maxAgents ?? 1));
      if (!chosen) return;
      service.scalePool(name, chosen);
      deps.log.info(`pool ${name} scaled by the user to ${chosen.minAgents ?? pool?.minAgents}-${chosen.maxAgents ?? pool?.maxAgents} agents`);
    },
    [Commands.runPrompt]: (args?: RunPromptArgs) => runPrompt({ service, ...deps.runPrompt }, args ?? {}),
    [Commands.sendPromptToAgent]: (target?: TreeNode) => runPrompt({ service, ...deps.runPrompt }, { profile: target?.profile, agentId: target?.agentId }),
    [Commands.recycleAgent]: async (target?: TreeNode | string) =>
      withAgent(service, target, 'Recycle which agent?', (id) => {
        service.recycleAgent(id);
        deps.log.info(`recycle of ${id} requested by the user`);
      }),
    [Commands.restartAgent]: async (target?: TreeNode | string) =>
      withAgent(service, target, 'Restart which agent?', async (id) => {
        deps.log.info(`restart of ${id} requested by the user`);
        await service.restartAgent(id);
        deps.log.info(`${id} restarted`);
      }),
    [Commands.stopAgent]: async (target?: TreeNode | string) =>
      withAgent(service, target, 'Stop which agent?', (id) => {
        const { replaced, minAgents } = service.stopAgent(id);
        deps.log.info(`stop of ${id} requested by the user${replaced ? `; a new agent replaces it to keep the pool's minimum of ${minAgents}` : ''}`);
        if (replaced) {
          // Otherwise it looks as if nothing happened: a fresh agent takes the stopped one's place at once.
          void vscode.window
            .showInformationMessage(
              `Agent Pool: stopped ${id}. A new agent replaces it to keep the pool's minimum of ${plural(minAgents, 'warm agent')}; scale the pool down to stop agents for good.`,
              'Scale Pool…',
            )
            .then((choice) => choice && vscode.commands.executeCommand(Commands.scalePool, service.profileOfAgent(id)));
        }
      }),
    [Commands.retryPool]: async (target?: TreeNode | string) => {
      const name = profileOf(target) ?? (await pickRunningPool(service, 'Retry which pool?'));
      if (!name) return;
      deps.log.info(`retry of pool ${name} requested by the user`);
      await service.retryPool(name);
      deps.log.info(`pool ${name} started again`);
    },
    [Commands.openProfileSettings]: (target?: TreeNode | string) => {
      const name = profileOf(target);
      return vscode.commands.executeCommand('workbench.action.openSettings', name ? `${CONFIG_SECTION}.profiles` : CONFIG_SECTION);
    },
    [Commands.showAgentLog]: async (target?: TreeNode) => {
      const id = target?.agentId;
      if (!id) return deps.log.show();
      const lines = deps.recentLog.linesAbout(id);
      const document = await vscode.workspace.openTextDocument({ content: lines.join('\n') || `No log lines mention ${id} yet.`, language: 'log' });
      await vscode.window.showTextDocument(document, { preview: true });
    },
    [Commands.closeConversation]: async (target?: TreeNode | string) => {
      const key = typeof target === 'string' ? target : (target?.conversationKey ?? (await pickConversation(service, deps.conversationTitle)));
      if (key === undefined) return false;
      const name = deps.conversationTitle(key) ?? key;
      const closed = await service.conversations.close(key);
      deps.onDidCloseConversation(key);
      deps.log.info(`conversation "${key}" closed by the user${closed ? '' : ' (it had ended already)'}`);
      void vscode.window.showInformationMessage(
        closed ? `Agent Pool: closed the conversation "${name}". Its agent session ended; a new prompt starts a new conversation.` : `Agent Pool: the conversation "${name}" had ended already.`,
      );
      return closed;
    },
    [Commands.showMetrics]: () => deps.metricsPanel.show(),
    [Commands.exportMetrics]: async (format?: 'json' | 'prometheus', target?: vscode.Uri) => exportMetrics(service, format, target),
    [Commands.cleanupInstances]: async () => {
      const report = await service.cleanup();
      const removed = report.removedDead.length + report.removedStale.length;
      const message =
        removed + report.reclaimedSlots.length + report.killedOrphans.length === 0
          ? 'Agent Pool: nothing to clean up; every registered window is alive.'
          : `Agent Pool: removed ${report.removedDead.length} dead and ${report.removedStale.length} stale windows, reclaimed ${report.reclaimedSlots.length} slots, stopped ${report.killedOrphans.length} orphaned agents.`;
      deps.log.info(`${message} ${JSON.stringify(report)}`);
      void vscode.window.showInformationMessage(message);
      return report;
    },
    [Commands.showLog]: () => deps.log.show(),
    [Commands.refresh]: () => deps.refresh(),
    [Commands.showActions]: () => showActions(),
    [Commands.selectProfile]: (name?: string) => deps.selectProfile(name),
  };
  return Object.entries(handlers).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (error) {
        const message = errorMessage(error);
        if (!deps.recentLog.saidRecently(message)) deps.log.error(`${id}: ${message}`);
        void vscode.window.showErrorMessage(`Agent Pool: ${message}`, 'Show Log').then((choice) => choice && deps.log.show());
        return undefined;
      }
    }),
  );
}

function profileOf(target: TreeNode | string | undefined): string | undefined {
  return typeof target === 'string' ? target : target?.profile;
}

async function withAgent(
  service: AgentPoolService,
  target: TreeNode | string | undefined,
  title: string,
  act: (agentId: string) => void | Promise<void>,
): Promise<void> {
  const agentId = typeof target === 'string' ? target : (target?.agentId ?? (await pickAgent(service, title)));
  if (agentId) await act(agentId);
}

async function pickAgent(service: AgentPoolService, title: string): Promise<string | undefined> {
  const items = service.pools().flatMap((pool) =>
    pool.agents.filter((a) => a.state !== 'stopped').map((a) => ({ label: a.id, description: `${a.state} · ${a.profile} · ${plural(a.turns, 'turn')}` })),
  );
  if (items.length === 0) {
    void vscode.window.showInformationMessage('Agent Pool: no agent is running in this window.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { title }))?.label;
}

async function pickConversation(service: AgentPoolService, title: (key: string) => string | undefined): Promise<string | undefined> {
  const conversations = await service.conversations.list();
  if (conversations.length === 0) {
    void vscode.window.showInformationMessage('Agent Pool: there is no conversation to close.');
    return undefined;
  }
  const items = conversations.map((c) => ({
    label: title(c.key) ?? c.key,
    description: [c.profile, plural(c.turns, 'turn'), shortContextUse(c.usage), c.contextLost > 0 ? 'context lost' : undefined].filter(Boolean).join(' · '),
    detail: title(c.key) ? c.key : undefined,
    key: c.key,
  }));
  return (await vscode.window.showQuickPick(items, { title: 'Agent Pool: Close which conversation?', matchOnDetail: true }))?.key;
}

async function pickProfile(service: AgentPoolService, title: string): Promise<string | undefined> {
  const picked = await vscode.window.showQuickPick(profileItems(service), { title: `Agent Pool: ${title}` });
  return picked?.name;
}

async function pickRunningPool(service: AgentPoolService, title: string): Promise<string | undefined> {
  const pools = service.pools();
  if (pools.length === 1) return pools[0].profile;
  if (pools.length === 0) {
    void vscode.window.showInformationMessage('Agent Pool: no pool is running in this window.');
    return undefined;
  }
  const items = pools.map((p) => ({ label: p.profile, description: plural(p.agents.filter((a) => a.state !== 'stopped').length, 'agent') }));
  return (await vscode.window.showQuickPick(items, { title: `Agent Pool: ${title}` }))?.label;
}

async function askLimits(profile: string, min: number, max: number): Promise<{ minAgents: number; maxAgents: number } | undefined> {
  const answer = await vscode.window.showInputBox({
    title: `Agent Pool: Scale ${profile}`,
    prompt: 'Warm minimum and maximum agents, e.g. "1-4"',
    value: `${min}-${max}`,
    validateInput: (text) => (parseLimits(text) ? undefined : `Enter two whole numbers "min-max" with 0 ≤ min ≤ max, 1 ≤ max ≤ ${integerRow('pool.maxAgents').max}, e.g. 1-4`),
  });
  return answer === undefined ? undefined : parseLimits(answer);
}

async function exportMetrics(service: AgentPoolService, format?: 'json' | 'prometheus', target?: vscode.Uri): Promise<string | undefined> {
  const kind =
    format ??
    ((await vscode.window.showQuickPick(['json', 'prometheus'], { title: 'Agent Pool: Export Metrics as…' })) as 'json' | 'prometheus' | undefined);
  if (!kind) return undefined;
  const uri =
    target ??
    (await vscode.window.showSaveDialog({
      title: 'Export Agent Pool metrics',
      defaultUri: vscode.Uri.joinPath(
        vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir()),
        `agent-pool-metrics.${kind === 'json' ? 'json' : 'prom'}`,
      ),
      filters: kind === 'json' ? { JSON: ['json'] } : { 'Prometheus text': ['prom', 'txt'] },
    }));
  if (!uri) return undefined;
  const view = service.aggregate();
  await writeFile(uri.fsPath, kind === 'json' ? formatJson(view) : toPrometheus(view));
  void vscode.window.showInformationMessage(`Agent Pool: metrics written to ${uri.fsPath}`, 'Open').then((choice) => {
    if (choice) void vscode.window.showTextDocument(uri, { preview: true });
  });
  return uri.fsPath;
}

async function showActions(): Promise<void> {
  const actions: Array<vscode.QuickPickItem & { command: string }> = [
    { label: '$(play) Run Prompt…', command: Commands.runPrompt },
    { label: '$(graph) Show Metrics', command: Commands.showMetrics },
    { label: '$(server-process) Start Pool', command: Commands.startPool },
    { label: '$(arrow-both) Scale Pool…', command: Commands.scalePool },
    { label: '$(debug-stop) Stop Pool', command: Commands.stopPool },
    { label: '$(trash) Clean Up Stale Instances', command: Commands.cleanupInstances },
    { label: '$(export) Export Metrics…', command: Commands.exportMetrics },
    { label: '$(output) Show Log', command: Commands.showLog },
  ];
  const picked = await vscode.window.showQuickPick(actions, { title: 'Agent Pool' });
  if (picked) await vscode.commands.executeCommand(picked.command);
}
