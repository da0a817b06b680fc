import { describeFirstOutputWait } from '../core/pool/firstOutputWait';
import * as vscode from 'vscode';
import { errorMessage } from '../core/common/errors';
import type { AgentPoolService } from '../core/service/agentPoolService';
import { stopReasonText } from './chat/chatParts';
import { noteForEvent } from './continuityNote';
import { shortContextUse } from './conversationNodes';
import { titleOf, type ConversationTitles } from './conversationTitles';
import type { PromptInput } from './promptInput';
import { formatDuration, plural } from './statusModel';
import type { TranscriptProvider } from './transcripts';

/** Arguments that skip the pickers, for keybindings, other extensions and tests. */
export interface RunPromptArgs {
  profile?: string;
  prompt?: string;
  sessionKey?: string;
  sourceModule?: string;
  targetModule?: string;
  /** Exactly this agent (Send Prompt to This Agent). */
  agentId?: string;
  /** Show the transcript (default true). */
  show?: boolean;
  /** Type the prompt in an editor (several lines) instead of the input box. */
  editor?: boolean;
}

export interface RunPromptOutcome {
  uri: string;
  /** The whole transcript document (every turn of the conversation so far). */
  text: string;
  /** This turn's answer. */
  answer?: string;
  stopReason?: string;
  agentId?: string;
  profile?: string;
  continuity?: string;
  error?: string;
}

export interface RunPromptDeps {
  service: AgentPoolService;
  transcripts: TranscriptProvider;
  titles: ConversationTitles;
  input: PromptInput;
  /** Shows a transcript rendered. */
  show: (uri: vscode.Uri) => Promise<void>;
}

const AUTOMATIC = 'Automatic';

/**
 * Run Prompt…: a conversation to continue (its profile comes with it) or a new one, a profile for a
 * new one, then the prompt, in an input box or an editor for several lines. The answer streams into
 * the conversation's rendered document, one per conversation, each turn appended; the progress
 * notification can cancel it and closes with the answer.
 */
export async function runPrompt(deps: RunPromptDeps, args: RunPromptArgs = {}): Promise<RunPromptOutcome | undefined> {
  const { service, transcripts, titles } = deps;
  let profile = args.profile;
  let sessionKey = args.sessionKey;
  if (profile === undefined && sessionKey === undefined && args.prompt === undefined && !args.agentId) {
    const picked = await pickConversation(service, titles);
    if (!picked) return undefined;
    sessionKey = picked.key || undefined;
    profile = picked.profile;
  }
  profile ??= await pickProfile(service);
  if (profile === undefined) return undefined;
  const prompt = args.prompt ?? (await deps.input.ask(`Agent Pool: Run Prompt (${profile === AUTOMATIC ? 'automatic routing' : profile})`, { editor: args.editor }));
  if (!prompt?.trim()) return undefined;

  const automatic = profile === AUTOMATIC;
  if (!automatic && !service.pools().some((p) => p.profile === profile)) await service.startPool(profile);
  const title = sessionKey ? titles.nameAfterFirstPrompt(sessionKey, prompt) : titleOf(prompt);
  const turn = transcripts.beginTurn({ conversation: sessionKey, title, prompt, who: automatic ? 'Agent' : profile });
  if (args.show !== false) await deps.show(turn.uri);
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Agent Pool: ${title}`, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const subscription = token.onCancellationRequested(() => abort.abort());
      // Said in the transcript as it happens: the conversation moved to another agent, or lost its context.
      const continuity = sessionKey ? service.onDidPoolEvent((event) => {
        const note = noteForEvent(event, sessionKey);
        if (note) turn.note(note);
      }) : undefined;
      const started = Date.now();
      let answer = '';
      try {
        const result = await service.run(prompt, {
          profiles: automatic ? undefined : [profile],
          sessionKey,
          sourceModule: args.sourceModule,
          targetModule: args.targetModule,
          agentId: args.agentId,
          signal: abort.signal,
          task: title,
          // Until the first event: "waiting for claude's first output · 25 s", so silence is visible.
          onWaiting: (wait) => {
            if (wait) progress.report({ message: describeFirstOutputWait(wait) });
          },
          onEvent: (event) => {
            if (event.kind === 'text' && event.text) {
              answer += event.text;
              turn.append(event.text);
            } else if (event.kind === 'tool-call' && event.text) turn.note(`> tool: ${event.text}`);
            progress.report({ message: `answering · ${Math.round((Date.now() - started) / 1000)} s` });
          },
        });
        const footer = [stopReasonText(result.stopReason) ?? 'Answered', `agent ${result.agentId} (${result.profile})`, formatDuration(result.totalMs)];
        const context = sessionKey ? await service.conversations.get(sessionKey).catch(() => undefined) : undefined;
        const used = context && shortContextUse(context.usage);
        if (used) footer.push(`context ${used}`);
        turn.finish(footer.join(' · '));
        return {
          uri: turn.uri.toString(),
          text: transcripts.textOf(turn.uri),
          answer,
          stopReason: result.stopReason,
          agentId: result.agentId,
          profile: result.profile,
          continuity: result.continuity,
        };
      } catch (error) {
        const message = errorMessage(error);
        turn.finish(abort.signal.aborted ? `Cancelled after ${formatDuration(Date.now() - started)}` : `Failed: ${message}`);
        if (!abort.signal.aborted) void vscode.window.showErrorMessage(`Agent Pool: ${message}`);
        return { uri: turn.uri.toString(), text: transcripts.textOf(turn.uri), answer, error: message };
      } finally {
        continuity?.dispose();
        subscription.dispose();
      }
    },
  );
}

async function pickProfile(service: AgentPoolService): Promise<string | undefined> {
  const running = new Set(service.pools().map((p) => p.profile));
  const items: vscode.QuickPickItem[] = [
    { label: AUTOMATIC, description: 'route to the least loaded running pool', detail: running.size ? [...running].join(', ') : 'no pool is running yet' },
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    ...Object.values(service.profiles()).map((p) => ({
      label: p.name,
      description: running.has(p.name) ? 'running' : `${p.adapter} · ${p.command.split(/[\\/]/).pop()}`,
    })),
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Agent Pool: Run Prompt with…', placeHolder: 'Profile' });
  return picked?.label;
}

/** A conversation to continue (with its profile), a new one ('' key for a one-off), or undefined when dismissed. */
async function pickConversation(service: AgentPoolService, titles: ConversationTitles): Promise<{ key: string; profile?: string } | undefined> {
  const conversations = await service.conversations.list().catch(() => []);
  type Item = vscode.QuickPickItem & { key?: string; profile?: string; create?: boolean };
  const items: Item[] = [
    { label: '$(add) New conversation…', description: 'name it to continue it later', create: true },
    { label: '$(comment) One-off prompt', description: 'no conversation', key: '' },
    ...(conversations.length ? [{ label: 'Continue', kind: vscode.QuickPickItemKind.Separator } as Item] : []),
    ...conversations.map((c) => ({
      label: titles.get(c.key) ?? c.key,
      description: [c.profile, plural(c.turns, 'turn'), shortContextUse(c.usage), c.contextLost > 0 ? 'context lost' : undefined].filter(Boolean).join(' · '),
      detail: titles.get(c.key) ? c.key : undefined,
      key: c.key,
      profile: c.profile,
    })),
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Agent Pool: Run Prompt in…', matchOnDetail: true });
  if (!picked) return undefined;
  if (picked.create) {
    const name = await vscode.window.showInputBox({ title: 'Agent Pool: New conversation', prompt: 'A name to continue it by (Run Prompt, the CLI\'s --session)' });
    return name?.trim() ? { key: name.trim() } : undefined;
  }
  return { key: picked.key ?? '', profile: picked.profile };
}
