import { describeFirstOutputWait } from '../core/pool/firstOutputWait';
import * as vscode from 'vscode';
import { errorMessage } from '../core/common/errors';
import type { AgentPoolService } from '../core/service/agentPoolService';
import { stopReasonText } from './chat/chatParts';
import { formatDuration } from './statusModel';
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
  /** Open the transcript editor (default true). */
  show?: boolean;
}

export interface RunPromptOutcome {
  uri: string;
  text: string;
  stopReason?: string;
  agentId?: string;
  profile?: string;
  error?: string;
}

const AUTOMATIC = 'Automatic';

/**
 * Run Prompt…: pick a profile (or automatic routing across running pools), optionally a
 * conversation to continue, type the prompt; the answer streams into a read-only editor and the
 * run can be cancelled from the progress notification.
 */
export async function runPrompt(
  service: AgentPoolService,
  transcripts: TranscriptProvider,
  args: RunPromptArgs = {},
): Promise<RunPromptOutcome | undefined> {
  const profile = args.profile ?? (await pickProfile(service));
  if (profile === undefined) return undefined;
  const sessionKey = args.sessionKey ?? (args.prompt === undefined && !args.agentId ? await pickSession(service) : undefined);
  if (sessionKey === null) return undefined;
  const prompt = args.prompt ?? (await vscode.window.showInputBox({ title: 'Agent Pool: Run Prompt', prompt: 'What should the agent do?', ignoreFocusOut: true }));
  if (!prompt) return undefined;

  const automatic = profile === AUTOMATIC;
  if (!automatic && !service.pools().some((p) => p.profile === profile)) await service.startPool(profile);
  const transcript = transcripts.create(`${automatic ? 'Automatic' : profile}: ${firstLine(prompt)}`);
  if (args.show !== false) {
    // The .md path makes it Markdown; no setTextDocumentLanguage, which would swap the document.
    const document = await vscode.workspace.openTextDocument(transcript.uri);
    await vscode.window.showTextDocument(document, { preview: false, preserveFocus: true });
  }
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Agent Pool: running prompt', cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const subscription = token.onCancellationRequested(() => abort.abort());
      const started = Date.now();
      try {
        const result = await service.run(prompt, {
          profiles: automatic ? undefined : [profile],
          sessionKey: sessionKey || undefined,
          sourceModule: args.sourceModule,
          targetModule: args.targetModule,
          agentId: args.agentId,
          signal: abort.signal,
          task: firstLine(prompt),
          // Until the first event: "waiting for claude's first output · 25 s", so silence is visible.
          onWaiting: (wait) => {
            if (wait) progress.report({ message: describeFirstOutputWait(wait) });
          },
          onEvent: (event) => {
            if (event.kind === 'text' && event.text) transcript.append(event.text);
            else if (event.kind === 'tool-call' && event.text) transcript.append(`\n\n> tool: ${event.text}\n\n`);
            progress.report({ message: `${Math.round((Date.now() - started) / 100) / 10} s` });
          },
        });
        transcript.finish([stopReasonText(result.stopReason) ?? 'Answered', `agent ${result.agentId} (${result.profile})`, formatDuration(result.totalMs)].join(' · '));
        return { uri: transcript.uri.toString(), text: transcripts.textOf(transcript.uri), stopReason: result.stopReason, agentId: result.agentId, profile: result.profile };
      } catch (error) {
        const message = errorMessage(error);
        transcript.finish(`**Failed:** ${message}`);
        if (!abort.signal.aborted) void vscode.window.showErrorMessage(`Agent Pool: ${message}`);
        return { uri: transcript.uri.toString(), text: transcripts.textOf(transcript.uri), error: message };
      } finally {
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

/** '' for a one-off prompt, a key to continue a conversation, null when dismissed. */
async function pickSession(service: AgentPoolService): Promise<string | null> {
  const sessions = service.localMetrics()?.sessions ?? [];
  const items: vscode.QuickPickItem[] = [
    { label: 'One-off prompt', description: 'no conversation' },
    { label: 'New conversation…', description: 'name it to continue it later' },
    ...sessions.map((s) => ({ label: s.key, description: `${s.prompts.total} prompts · ${s.profile}` })),
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Agent Pool: Conversation' });
  if (!picked) return null;
  if (picked.label === 'One-off prompt') return '';
  if (picked.label === 'New conversation…') return (await vscode.window.showInputBox({ prompt: 'Conversation name' })) ?? null;
  return picked.label;
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() && !l.startsWith('/demo')) ?? text;
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}
