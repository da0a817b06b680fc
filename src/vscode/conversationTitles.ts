import type * as vscode from 'vscode';

const STATE_KEY = 'agentPool.conversationTitles';
/** Enough for every conversation a person keeps; the oldest titles go first. */
const MAX_TITLES = 200;

/**
 * What people call their conversations: the first prompt of a chat thread or of a Run Prompt
 * conversation, kept in the workspace state so the tree and the transcript keep the title across a
 * reload. A conversation without one shows its key.
 */
export class ConversationTitles {
  private readonly titles: Map<string, string>;

  constructor(private readonly memento: vscode.Memento) {
    const saved = memento.get<Array<[string, string]>>(STATE_KEY, []);
    this.titles = new Map(Array.isArray(saved) ? saved.filter((entry) => Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string') : []);
  }

  get all(): ReadonlyMap<string, string> {
    return this.titles;
  }

  get(key: string): string | undefined {
    return this.titles.get(key);
  }

  /** Names a conversation after its first prompt, unless it has a title already. */
  nameAfterFirstPrompt(key: string, prompt: string): string {
    const existing = this.titles.get(key);
    if (existing) return existing;
    const title = titleOf(prompt);
    this.titles.set(key, title);
    while (this.titles.size > MAX_TITLES) this.titles.delete(this.titles.keys().next().value!);
    void this.memento.update(STATE_KEY, [...this.titles]);
    return title;
  }

  forget(key: string): void {
    if (this.titles.delete(key)) void this.memento.update(STATE_KEY, [...this.titles]);
  }
}

/** The prompt's first line of text (directive lines like `/demo …` skipped), at most 60 characters. */
export function titleOf(prompt: string): string {
  const line = prompt.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('/demo')) ?? prompt.trim();
  return line.length > 60 ? `${line.slice(0, 59)}…` : line || 'Untitled';
}
