/** Every id the manifest and the code share, in one place (house style rule 17). */
export const EXTENSION_ID = 'agent-pool.agent-pool';
export const VIEW_CONTAINER_ID = 'agentPool';
export const AGENTS_VIEW_ID = 'agentPool.agents';
export const CONFIG_SECTION = 'agentPool';
/** The `@agents` participant in the Chat view, and the vendor of the models it needs there. */
export const CHAT_PARTICIPANT_ID = 'agentPool.agents';
export const MODEL_VENDOR = 'agent-pool';

export const Commands = {
  startPool: 'agentPool.startPool',
  stopPool: 'agentPool.stopPool',
  scalePool: 'agentPool.scalePool',
  runPrompt: 'agentPool.runPrompt',
  sendPromptToAgent: 'agentPool.sendPromptToAgent',
  recycleAgent: 'agentPool.recycleAgent',
  restartAgent: 'agentPool.restartAgent',
  stopAgent: 'agentPool.stopAgent',
  showAgentLog: 'agentPool.showAgentLog',
  showMetrics: 'agentPool.showMetrics',
  exportMetrics: 'agentPool.exportMetrics',
  cleanupInstances: 'agentPool.cleanupInstances',
  showLog: 'agentPool.showLog',
  refresh: 'agentPool.refresh',
  showActions: 'agentPool.showActions',
  selectProfile: 'agentPool.selectProfile',
  answerPermission: 'agentPool.answerPermission',
  retryPool: 'agentPool.retryPool',
  openProfileSettings: 'agentPool.openProfileSettings',
  closeConversation: 'agentPool.closeConversation',
  sendPrompt: 'agentPool.sendPrompt',
  copyUserSettingsToRemote: 'agentPool.copyUserSettingsToRemote',
} as const;

export const ContextKeys = {
  noProfile: 'agentPool.noProfile',
  hasAgents: 'agentPool.hasAgents',
  hasPools: 'agentPool.hasPools',
  /** Which welcome the Agents view shows while empty: 'profile', 'restricted', or '' for none. */
  welcome: 'agentPool.welcome',
  /** The active editor is a Run Prompt prompt waiting to be sent. */
  promptEditor: 'agentPool.promptEditor',
} as const;
