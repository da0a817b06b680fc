import * as vscode from 'vscode';
import type { AgentPoolService } from '../../core/service/agentPoolService';
import { MODEL_VENDOR } from '../constants';

const AUTOMATIC_MODEL = 'automatic';

/**
 * Agent Pool's pooled agents as chat models (vendor `agent-pool`): "Agent Pool" routes
 * automatically, and each running pool is a model of its own. The Chat view hands a request to a
 * participant only while some model is available, and on a machine without Copilot (or offline)
 * these are the only ones, so `@agents` needs them; they are also honest models in their own right:
 * a request runs as one prompt on a pooled agent, with the thread's earlier messages written out.
 *
 * They declare no tool calling. A pooled agent uses its own tools, under Agent Pool's permission
 * prompts, and never hands tool calls back to the caller, so claiming `toolCalling` would promise
 * the Chat's agent mode something the agents cannot do. The cost: modes that list only tool-calling
 * models do not offer these models directly; `@agents` is the way to talk to the pool there.
 */
export class PooledAgentModels implements vscode.LanguageModelChatProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeLanguageModelChatInformation = this.changed.event;
  private shownProfiles = '';

  constructor(private readonly service: AgentPoolService) {}

  /** Call on every pool change; tells the workbench only when the set of pools changed. */
  poolsChanged(): void {
    const profiles = this.runningProfiles().join(',');
    if (profiles === this.shownProfiles) return;
    this.shownProfiles = profiles;
    this.changed.fire();
  }

  provideLanguageModelChatInformation(): vscode.LanguageModelChatInformation[] {
    const model = (id: string, name: string, detail: string, tooltip: string): vscode.LanguageModelChatInformation => ({
      id,
      name,
      family: 'agent-pool',
      version: '1',
      detail,
      tooltip,
      maxInputTokens: 200_000,
      maxOutputTokens: 32_000,
      capabilities: { toolCalling: false, imageInput: false },
    });
    return [
      model(AUTOMATIC_MODEL, 'Agent Pool', 'pooled agents', 'Runs each request on a pooled agent, routed across the pools running in this window.'),
      ...this.runningProfiles().map((profile) => model(`profile:${profile}`, `Agent Pool: ${profile}`, 'pooled agent', `Runs each request on an agent of the ${profile} pool.`)),
    ];
  }

  async provideLanguageModelChatResponse(
    model: vscode.LanguageModelChatInformation,
    messages: readonly vscode.LanguageModelChatRequestMessage[],
    _options: vscode.ProvideLanguageModelChatResponseOptions,
    progress: vscode.Progress<vscode.LanguageModelResponsePart>,
    token: vscode.CancellationToken,
  ): Promise<void> {
    const profile = model.id.startsWith('profile:') ? model.id.slice('profile:'.length) : undefined;
    const abort = new AbortController();
    const subscription = token.onCancellationRequested(() => abort.abort());
    try {
      await this.service.run(transcriptPrompt(messages), {
        profiles: profile ? [profile] : undefined,
        signal: abort.signal,
        task: 'chat model request',
        onEvent: (event) => {
          if (event.kind === 'text' && event.text) progress.report(new vscode.LanguageModelTextPart(event.text));
        },
      });
    } finally {
      subscription.dispose();
    }
  }

  provideTokenCount(_model: vscode.LanguageModelChatInformation, text: string | vscode.LanguageModelChatRequestMessage): Promise<number> {
    // The agents' tokenizers are their own; four characters a token is the usual estimate.
    const content = typeof text === 'string' ? text : textOf(text);
    return Promise.resolve(Math.ceil(content.length / 4));
  }

  dispose(): void {
    this.changed.dispose();
  }

  private runningProfiles(): string[] {
    return this.service
      .pools()
      .map((pool) => pool.profile)
      .sort();
  }
}

/** A model request is stateless: the last user message, with the earlier messages written out before it. */
export function transcriptPrompt(messages: readonly vscode.LanguageModelChatRequestMessage[]): string {
  const turns = messages.map((message) => ({ role: message.role === vscode.LanguageModelChatMessageRole.User ? 'User' : 'Assistant', text: textOf(message) }));
  const last = turns.at(-1)?.text ?? '';
  const earlier = turns.slice(0, -1).filter((turn) => turn.text.trim());
  if (earlier.length === 0) return last;
  return `Earlier in this conversation:\n\n${earlier.map((turn) => `${turn.role}: ${turn.text}`).join('\n\n')}\n\nNow answer this:\n\n${last}`;
}

function textOf(message: vscode.LanguageModelChatRequestMessage): string {
  return message.content
    .map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : ''))
    .join('');
}

export function registerPooledAgentModels(service: AgentPoolService): { models: PooledAgentModels; disposables: vscode.Disposable[] } {
  const models = new PooledAgentModels(service);
  const registration = vscode.lm.registerLanguageModelChatProvider(MODEL_VENDOR, models);
  // The workbench asks a provider for its models only once someone selects them; without this the
  // Chat view would say "Language model unavailable" before `@agents` ever saw a request.
  void vscode.lm.selectChatModels({ vendor: MODEL_VENDOR });
  return { models, disposables: [registration, models] };
}
