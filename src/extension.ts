import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from './core/common/errors';
import { MementoMetricsStateStore } from './core/metrics/persistence';
import { AgentPoolService } from './core/service/agentPoolService';
import { etcdBackendFor, registerEtcdPasswordCommand } from './vscode/etcdBackend';
import { MementoPoolStateStore } from './core/service/poolState';
import { RecentLog } from './vscode/agentLogs';
import { createApi, type AgentPoolApi } from './vscode/api';
import { registerCommands } from './vscode/commands';
import { CONFIG_SECTION, ContextKeys } from './vscode/constants';
import { dashboardStateOf, statusInputOf } from './vscode/dashboard';
import { MetricsPanel } from './vscode/metricsPanel';
import { askInModal } from './vscode/permissionPrompt';
import { registerChatParticipant, type AgentChatMetadata } from './vscode/chat/chatParticipant';
import { registerPooledAgentModels } from './vscode/chat/modelProvider';
import { PermissionRouter } from './vscode/chat/permissionRouter';
import { SettingsReader } from './vscode/settingsReader';
import { StatusBarController } from './vscode/statusBar';
import type { StatusView } from './vscode/statusModel';
import { TRANSCRIPT_SCHEME, TranscriptProvider } from './vscode/transcripts';
import { PromptInput } from './vscode/promptInput';
import { TranscriptPanels } from './vscode/transcriptPanels';
import { IgnoredUserSettings } from './vscode/ignoredUserSettings';
import { buildTree } from './vscode/treeModel';
import { AgentTreeView } from './vscode/treeView';
import { ConversationCache } from './vscode/conversationCache';
import { ConversationTitles } from './vscode/conversationTitles';
import { startPools, selectProfile } from './vscode/poolStartup';

/** Set by the esbuild banner at the first line of dist/extension.js. */
declare const bundleLoadStart: number | undefined;

/** When this module's own code starts, i.e. once every module it imports has been evaluated. */
const bundleEvaluatedAt = performance.now();

let service: AgentPoolService | undefined;

export interface ExtensionExports extends AgentPoolApi {
  /** Test hooks: what the status bar and the tree show right now, and how long activation took. */
  readonly testing: {
    statusText(): string;
    statusView(): StatusView | undefined;
    treeRoots(): unknown;
    /** Rows the tree has drawn since activation (getTreeItem calls). */
    treeRowsDrawn(): number;
    /** The last rows drawn ("<id>: <description>"), newest last. */
    treeLastRowsDrawn(): readonly string[];
    /** How often the service has reported a change (a heartbeat, a snapshot, a pool event) since activation. */
    serviceChanges(): number;
    /** The service's recent log lines ("<level> <message>"). */
    logLines(): string[];
    /** Every `@agents` answer's metadata, in order, cancelled turns included. */
    chatAnswers: AgentChatMetadata[];
    /** Every permission question an `@agents` thread showed, in order. */
    chatPermissions: Array<{ id: string; optionIds: string[] }>;
    activationMs: number;
    loadMs: number;
    service: AgentPoolService;
    metricsHtml(): string | undefined;
    /** The HTML bodies a Run Prompt transcript's panel was given, oldest first. */
    transcriptBodies(uri: string): readonly string[];
    /** The User settings file this window reads to find machine settings it ignores. */
    userSettingsFile: string;
    /** The machine settings the last look at that file found ignored here. */
    ignoredUserSettings(): readonly string[];
  };
}

/** Wires the parts; each has its own file. Everything with a lifetime goes into context.subscriptions. */
export async function activate(context: vscode.ExtensionContext): Promise<ExtensionExports> {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Agent Pool', { log: true });
  const recentLog = new RecentLog();
  const distDirectory = path.join(context.extensionPath, 'dist');
  const settingsReader = new SettingsReader(log, distDirectory);
  const spawnBlockedReason = () =>
    vscode.workspace.isTrusted ? undefined : 'Restricted Mode: Agent Pool starts no agent in an untrusted workspace. Trust the workspace to start agents.';

  const folders = vscode.workspace.workspaceFolders ?? [];
  let settings = settingsReader.read();
  // Chat turns answer their own permission questions in their thread; everything else gets the modal.
  const permissions = new PermissionRouter(askInModal);
  // Under agentPool.backend "etcd" the etcd bundle loads after activation returns (activation stays fast).
  const backend = etcdBackendFor(settings, context.secrets, (level, message) => log[level](message));
  context.subscriptions.push(registerEtcdPasswordCommand(context.secrets));
  service = new AgentPoolService({
    backend,
    settings,
    workspace: { name: vscode.workspace.name ?? 'no folder', folders: folders.map((f) => f.uri.fsPath) },
    extensionVersion: String(context.extension.packageJSON.version),
    cwd: folders[0]?.uri.fsPath ?? context.globalStorageUri.fsPath,
    distDirectory,
    spawnBlockedReason,
    permissionHandler: permissions.handle,
    metricsStateStore: new MementoMetricsStateStore(context.workspaceState),
    poolStateStore: new MementoPoolStateStore(context.workspaceState),
    log: (level, message) => {
      recentLog.add(`${level} ${message}`);
      log[level](message);
    },
  });
  const current = service;
  // Registration, budget and pools start after activation returns: activation stays fast.
  const startup = current.start();
  context.subscriptions.push(log, { dispose: () => void current.shutdown() });

  const titles = new ConversationTitles(context.workspaceState);
  // Read once the service is up (the records need the registry directory), then after every change of a conversation.
  const conversations = new ConversationCache(
    () => current.conversations.list(),
    () => {
      tree.scheduleRefresh();
      statusBar.scheduleRender();
      metricsPanel.scheduleRender();
    },
    (message) => log.warn(`conversations: ${message}`),
  );
  // Machine settings written in User settings are ignored in a remote or browser window: said once, with a fix.
  const userSettingsFile = vscode.Uri.joinPath(context.globalStorageUri, '..', '..', 'settings.json');
  const ignoredUserSettings = new IgnoredUserSettings(userSettingsFile, log);
  const transcripts = new TranscriptProvider();
  const transcriptPanels = new TranscriptPanels(transcripts, log);
  const promptInput = new PromptInput();
  const metricsPanel = new MetricsPanel(
    () => current.aggregate(),
    () => ({ conversations: conversations.current, titles: titles.all }),
  );
  const statusBar = new StatusBarController(() => statusInputOf(current, spawnBlockedReason() ?? current.registrationProblem));
  // An empty tree lets VS Code show a welcome: pick a profile on first use, or why Restricted Mode
  // starts nothing. Once other windows exist the tree is worth more, and says the same in a row.
  const otherWindowsLive = () => current.instances().some((instance) => !instance.isSelf && instance.health !== 'dead');
  const welcome = (): 'profile' | 'restricted' | '' => {
    if (current.pools().length > 0 || otherWindowsLive()) return '';
    if (!vscode.workspace.isTrusted) return 'restricted';
    return settings.defaultProfile ? '' : 'profile';
  };
  const tree = new AgentTreeView(
    () =>
      welcome()
        ? []
        : buildTree({
            ...dashboardStateOf(current, { monotonic: performance.now(), wall: Date.now() }),
            restricted: !vscode.workspace.isTrusted,
            conversations: conversations.current,
            conversationTitles: titles.all,
          }),
    () => current.pools().reduce((n, p) => n + p.agents.filter((a) => a.state === 'busy').length, 0),
  );
  const chatModels = registerPooledAgentModels(current);
  const chatAnswers: AgentChatMetadata[] = [];
  const chatPermissions: Array<{ id: string; optionIds: string[] }> = [];
  let serviceChanges = 0;
  const changed = new vscode.EventEmitter<void>();
  // Context keys and the API's onDidChange follow changes debounced, like the status bar and tree.
  let changeTimer: NodeJS.Timeout | undefined;
  const afterChange = () => {
    changeTimer ??= setTimeout(() => {
      changeTimer = undefined;
      updateContextKeys();
      changed.fire();
    }, 150);
  };
  // Each setContext is a message to the workbench: sent only when the value changed.
  const contextValues = new Map<string, unknown>();
  const setContext = (key: string, value: unknown) => {
    if (contextValues.has(key) && contextValues.get(key) === value) return;
    contextValues.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  };
  const updateContextKeys = () => {
    const pools = current.pools();
    setContext(ContextKeys.hasPools, pools.length > 0);
    setContext(ContextKeys.hasAgents, pools.some((p) => p.agents.length > 0));
    setContext(ContextKeys.noProfile, welcome() === 'profile');
    setContext(ContextKeys.welcome, welcome());
  };
  context.subscriptions.push(
    { dispose: () => clearTimeout(changeTimer) },
    { dispose: () => conversations.dispose() },
    current.conversations.onDidChange(() => void conversations.refresh()),
    transcripts,
    metricsPanel,
    statusBar,
    tree,
    changed,
    vscode.workspace.registerTextDocumentContentProvider(TRANSCRIPT_SCHEME, transcripts),
    ...chatModels.disposables,
    ...registerChatParticipant(context, { service: current, permissions, spawnBlockedReason, defaultProfile: () => settings.defaultProfile, log, onDidAnswer: (metadata) => chatAnswers.push(metadata), nameConversation: (key, prompt) => titles.nameAfterFirstPrompt(key, prompt), onDidAskPermission: (id, optionIds) => chatPermissions.push({ id, optionIds }) }),
    current.onDidChange(() => {
      serviceChanges++;
      chatModels.models.poolsChanged();
      statusBar.scheduleRender();
      tree.scheduleRefresh();
      metricsPanel.scheduleRender();
      afterChange();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(CONFIG_SECTION)) return;
      settings = settingsReader.read();
      current.applySettings(settings).then(
        (notes) => notes.forEach((note) => void vscode.window.showInformationMessage(`Agent Pool: ${note}`)),
        (error) => log.error(`applying settings: ${errorMessage(error)}`),
      );
      afterChange();
      tree.scheduleRefresh();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      statusBar.scheduleRender();
      afterChange();
      tree.scheduleRefresh();
      // After start(): pools need the registry and budget, and start() itself starts pools if trusted by then.
      void startup.then(() => startPools(current, log));
    }),
    promptInput,
    transcriptPanels,
    ignoredUserSettings,
    ...registerCommands({
      service: current,
      log,
      recentLog,
      runPrompt: { transcripts, titles, input: promptInput, show: (uri) => transcriptPanels.show(uri) },
      metricsPanel,
      spawnBlockedReason,
      selectProfile: (name) => selectProfile(current, name),
      onDidCloseConversation: (key) => {
        titles.forget(key);
        transcripts.forget(key);
        void conversations.refresh();
      },
      conversationTitle: (key) => titles.get(key),
      refresh: async () => {
        await current.refresh();
        await conversations.refresh();
        statusBar.renderNow();
        tree.refreshNow();
      },
    }),
  );
  updateContextKeys();

  void startup
    .then(() => {
      statusBar.renderNow();
      tree.refreshNow();
      void conversations.refresh();
      void ignoredUserSettings.check();
      return startPools(current, log);
    })
    .catch((error) => log.error(`Agent Pool could not start: ${errorMessage(error)}`));

  const activateMs = performance.now() - started;
  // Loading = evaluating the bundle; the host's own delay before it calls activate() is not ours.
  const loadMs = typeof bundleLoadStart === 'number' ? bundleEvaluatedAt - bundleLoadStart : 0;
  const activationMs = loadMs + activateMs;
  log.info(`activated in ${activationMs.toFixed(1)} ms (loading the bundle ${loadMs.toFixed(1)} ms, activate() ${activateMs.toFixed(1)} ms)`);
  const api = createApi(current, changed.event, () => {
    const reason = spawnBlockedReason();
    if (reason) throw new Error(reason);
  });
  return {
    ...api,
    testing: {
      statusText: () => statusBar.text,
      statusView: () => statusBar.view,
      treeRoots: () => tree.currentRoots,
      treeRowsDrawn: () => tree.rowsDrawnCount,
      treeLastRowsDrawn: () => tree.lastRowsDrawn,
      serviceChanges: () => serviceChanges,
      logLines: () => recentLog.linesAbout(''),
      chatAnswers,
      chatPermissions,
      activationMs,
      loadMs,
      service: current,
      metricsHtml: () => metricsPanel.html,
      transcriptBodies: (uri) => transcriptPanels.shownBodies(uri),
      userSettingsFile: userSettingsFile.toString(),
      ignoredUserSettings: () => ignoredUserSettings.ignored,
    },
  };
}

/** Drains and kills every agent, releases slots, writes the last snapshot, deregisters. */
export async function deactivate(): Promise<void> {
  await service?.shutdown();
  service = undefined;
}
