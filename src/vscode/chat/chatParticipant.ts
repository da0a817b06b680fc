import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { PermissionRequest } from '../../core/agents/adapter';
import { errorMessage } from '../../core/common/errors';
import { describeFirstOutputWait } from '../../core/pool/firstOutputWait';
import type { AgentPoolService } from '../../core/service/agentPoolService';
import { CHAT_PARTICIPANT_ID, Commands, CONFIG_SECTION } from '../constants';
import { stopReasonText, TurnRenderer, type ChatPart } from './chatParts';
import type { PermissionRouter } from './permissionRouter';
import { noteForEvent } from '../continuityNote';

/** What each answer carries in its metadata: how the next turn of the thread finds its conversation. */
export interface AgentChatMetadata {
  /** The conversation key of this thread (the service's sessionKey). */
  conversation: string;
  profile?: string;
  agentId?: string;
  sessionId?: string;
  /** 1 for the thread's first turn. */
  turn: number;
  outcome: 'answered' | 'cancelled' | 'failed';
  /** How the turn's session continued the conversation: kept, started, resumed, loaded or context-lost. */
  continuity?: string;
  /** What was asked, for the "Try again" follow-up. */
  prompt: string;
  error?: string;
}

export interface ChatDeps {
  service: AgentPoolService;
  permissions: PermissionRouter;
  spawnBlockedReason: () => string | undefined;
  defaultProfile: () => string;
  log: vscode.LogOutputChannel;
  /** Sees every answer's metadata, also of a cancelled turn (whose result the Chat view drops); for tests. */
  onDidAnswer?: (metadata: AgentChatMetadata) => void;
  /** A thread's first prompt names its conversation (in the tree). */
  nameConversation?: (key: string, prompt: string) => void;
  /** A permission question was put in a thread, answerable with agentPool.answerPermission(id, optionId); for tests. */
  onDidAskPermission?: (id: string, optionIds: string[]) => void;
}

/** `/profile <name> …` picks any profile, including the user's own; the built-ins have their own commands. */
const PROFILE_COMMAND = 'profile';

/**
 * `@agents` in the Chat view. Each thread is one conversation with the pool: the first answer's
 * metadata names the conversation, and every later turn of the thread continues it on the same
 * agent session. Commands pick a profile; without one the thread's own profile, or automatic
 * routing across the running pools. Permission questions become buttons in the thread.
 */
export function registerChatParticipant(context: vscode.ExtensionContext, deps: ChatDeps): vscode.Disposable[] {
  const pendingAnswers = new Map<string, (optionId: string | undefined) => void>();
  const participant = vscode.chat.createChatParticipant(CHAT_PARTICIPANT_ID, async (request, chatContext, stream, token) => {
    const result = await handle(deps, pendingAnswers, request, chatContext, stream, token);
    deps.onDidAnswer?.(result.metadata as AgentChatMetadata);
    return result;
  });
  participant.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'agent-pool.svg');
  participant.followupProvider = { provideFollowups: (result) => followupsFor(result.metadata as AgentChatMetadata | undefined) };
  return [
    participant,
    vscode.commands.registerCommand(Commands.answerPermission, (requestId: string, optionId: string) => {
      pendingAnswers.get(requestId)?.(optionId);
    }),
  ];
}

async function handle(
  deps: ChatDeps,
  pendingAnswers: Map<string, (optionId: string | undefined) => void>,
  request: vscode.ChatRequest,
  chatContext: vscode.ChatContext,
  stream: vscode.ChatResponseStream,
  token: vscode.CancellationToken,
): Promise<vscode.ChatResult> {
  const { service } = deps;
  const previous = lastMetadata(chatContext);
  let prompt = request.prompt;
  let profile: string | undefined;
  if (request.command === PROFILE_COMMAND) {
    const [name, ...rest] = prompt.trim().split(/\s+/);
    profile = name;
    prompt = prompt.trim().slice(name?.length ?? 0).trimStart();
    if (!profile || !service.profiles()[profile]) return tell(stream, `Name a profile: \`@agents /profile <name> …\`. Known profiles: ${Object.keys(service.profiles()).join(', ')}.`, prompt, previous);
    void rest;
  } else if (request.command) {
    profile = request.command;
  }
  // A thread keeps its profile; naming another one starts a conversation of its own with that profile.
  const sameConversation = previous && (profile === undefined || previous.profile === undefined || previous.profile === profile);
  profile ??= previous?.profile;
  const conversation = sameConversation ? previous.conversation : `chat-${randomUUID()}`;
  const turn = sameConversation ? previous.turn + 1 : 1;
  const metadata = (fields: Partial<AgentChatMetadata> & Pick<AgentChatMetadata, 'outcome'>): AgentChatMetadata => ({
    conversation,
    profile,
    turn,
    prompt,
    ...fields,
  });

  const blocked = deps.spawnBlockedReason();
  if (blocked) {
    stream.markdown(blocked);
    stream.button({ command: 'workbench.trust.manage', title: 'Manage Workspace Trust' });
    return { metadata: metadata({ outcome: 'failed', error: blocked }) };
  }
  if (!prompt.trim()) return tell(stream, 'What should the agent do? Type it after `@agents`.', prompt, previous);

  try {
    if (profile && !service.pools().some((pool) => pool.profile === profile)) {
      stream.progress(`Starting a pool for ${profile}…`);
      await service.startPool(profile);
    } else if (!profile && service.pools().length === 0) {
      const fallback = deps.defaultProfile();
      if (!fallback) {
        stream.markdown('No agent pool is running in this window and no default profile is set.');
        stream.button({ command: Commands.selectProfile, arguments: ['demo'], title: 'Use the Built-in Demo Agent' });
        stream.button({ command: Commands.selectProfile, title: 'Choose a Profile…' });
        return { metadata: metadata({ outcome: 'failed', error: 'no pool' }) };
      }
      stream.progress(`Starting a pool for ${fallback}…`);
      await service.startPool(fallback);
      profile = fallback;
    }
  } catch (error) {
    return failed(stream, errorMessage(error), metadata);
  }

  const abort = new AbortController();
  const cancelled = token.onCancellationRequested(() => abort.abort());
  const asker = {
    profile,
    sessionId: sameConversation ? previous.sessionId : undefined,
    ask: (permission: PermissionRequest, signal: AbortSignal) => askInThread(stream, pendingAnswers, permission, signal, deps.onDidAskPermission),
  };
  const stopAsking = deps.permissions.add(asker);
  const renderer = new TurnRenderer();
  const waitingSince = Date.now();
  let answered = false;
  deps.nameConversation?.(conversation, prompt);
  // Said before the answer, as it happens: the session moved to another agent, or its context is gone.
  const continuity = service.onDidPoolEvent((event) => {
    const note = noteForEvent(event, conversation);
    if (note) stream.markdown(`${note}\n\n`);
  });
  stream.progress(profile ? `Waiting for a ${profile} agent…` : 'Waiting for an agent…');
  try {
    const result = await service.run(prompt, {
      profiles: profile ? [profile] : undefined,
      sessionKey: conversation,
      signal: abort.signal,
      task: firstLine(prompt),
      // Until the first event: "waiting for claude's first output · 25 s", so silence is visible.
      onWaiting: (wait) => {
        if (!wait) return;
        // The Chat view hides a progress line once another part follows it: an empty one makes
        // each new count replace the last instead of stacking a line per second.
        stream.markdown('');
        stream.progress(describeFirstOutputWait(wait));
      },
      onEvent: (event) => {
        for (const part of renderer.render(event)) play(stream, part);
        if (event.kind === 'text' && event.text) answered = true;
      },
    });
    if (result.stopReason === 'cancelled' || abort.signal.aborted) {
      stream.markdown(`${answered ? '\n\n' : ''}*Cancelled after ${seconds(Date.now() - waitingSince)}.*`);
      return { metadata: metadata({ outcome: 'cancelled', profile: result.profile, agentId: result.agentId, sessionId: result.sessionId }) };
    }
    const note = stopReasonText(result.stopReason);
    if (!answered) stream.markdown(note ? '' : '*The agent finished without a written answer.*');
    if (note) stream.markdown(`\n\n*${note}*`);
    return { metadata: metadata({ outcome: 'answered', profile: result.profile, agentId: result.agentId, sessionId: result.sessionId, continuity: result.continuity }) };
  } catch (error) {
    if (abort.signal.aborted) {
      stream.markdown(`\n\n*Cancelled after ${seconds(Date.now() - waitingSince)}.*`);
      return { metadata: metadata({ outcome: 'cancelled' }) };
    }
    return failed(stream, errorMessage(error), metadata);
  } finally {
    continuity.dispose();
    stopAsking();
    cancelled.dispose();
  }
}

function play(stream: vscode.ChatResponseStream, part: ChatPart): void {
  if (part.kind === 'progress') stream.progress(part.text);
  else {
    const markdown = new vscode.MarkdownString(part.text, true);
    stream.markdown(markdown);
  }
}

function failed(
  stream: vscode.ChatResponseStream,
  message: string,
  metadata: (fields: Partial<AgentChatMetadata> & Pick<AgentChatMetadata, 'outcome'>) => AgentChatMetadata,
): vscode.ChatResult {
  stream.markdown(`**The prompt failed.** ${message}`);
  stream.button({ command: Commands.showLog, title: 'Show Log' });
  stream.button({ command: 'workbench.action.openSettings', arguments: [`${CONFIG_SECTION}.profiles`], title: 'Open Settings' });
  return { metadata: metadata({ outcome: 'failed', error: message }) };
}

function tell(stream: vscode.ChatResponseStream, text: string, prompt: string, previous: AgentChatMetadata | undefined): vscode.ChatResult {
  stream.markdown(text);
  return { metadata: { ...(previous ?? { conversation: `chat-${randomUUID()}`, turn: 0 }), prompt, outcome: 'failed', error: text } };
}

/** The permission question as buttons in the thread; the turn waits for a click (or cancel). */
async function askInThread(
  stream: vscode.ChatResponseStream,
  pendingAnswers: Map<string, (optionId: string | undefined) => void>,
  request: PermissionRequest,
  signal: AbortSignal,
  onDidAsk?: ChatDeps['onDidAskPermission'],
): Promise<{ optionId?: string }> {
  const id = randomUUID();
  const call = request.toolCall;
  stream.markdown(`\n\n**${request.profile} asks permission:** ${call.title ?? call.kind ?? 'to use a tool'}\n\n`);
  const answer = new Promise<string | undefined>((resolve) => {
    pendingAnswers.set(id, resolve);
    signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
  for (const option of request.options) stream.button({ command: Commands.answerPermission, arguments: [id, option.optionId], title: option.name });
  onDidAsk?.(id, request.options.map((option) => option.optionId));
  try {
    const optionId = await answer;
    const chosen = request.options.find((option) => option.optionId === optionId);
    stream.markdown(chosen ? `\n\n*You chose: ${chosen.name}.*\n\n` : '\n\n*Not answered.*\n\n');
    return { optionId };
  } finally {
    pendingAnswers.delete(id);
  }
}

function lastMetadata(chatContext: vscode.ChatContext): AgentChatMetadata | undefined {
  for (let index = chatContext.history.length - 1; index >= 0; index--) {
    const entry = chatContext.history[index];
    if (entry instanceof vscode.ChatResponseTurn && entry.participant === CHAT_PARTICIPANT_ID) {
      const metadata = entry.result.metadata as AgentChatMetadata | undefined;
      if (metadata?.conversation && metadata.turn > 0) return metadata;
    }
  }
  return undefined;
}

function followupsFor(metadata: AgentChatMetadata | undefined): vscode.ChatFollowup[] {
  if (!metadata) return [];
  switch (metadata.outcome) {
    case 'answered':
      return [
        { prompt: 'Go on.', label: 'Continue' },
        { prompt: 'Summarise what you did so far in three bullet points.', label: 'Summarise' },
      ];
    case 'cancelled':
      return [{ prompt: 'Continue where you stopped.', label: 'Continue where it stopped' }];
    case 'failed':
      return metadata.prompt ? [{ prompt: metadata.prompt, label: 'Try again' }] : [];
  }
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() && !l.startsWith('/demo')) ?? text;
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}
