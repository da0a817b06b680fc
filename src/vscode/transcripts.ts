import * as vscode from 'vscode';

export const TRANSCRIPT_SCHEME = 'agent-pool-run';

/** One turn being written into a transcript. */
export interface TranscriptTurn {
  readonly uri: vscode.Uri;
  /** Text of the answer, as it streams. */
  append(text: string): void;
  /** A line of its own (a tool call, the conversation moving to another agent). */
  note(markdown: string): void;
  finish(footer: string): void;
}

/**
 * Read-only Markdown documents that show prompts and answers as they stream, shown rendered by
 * transcriptPanels.ts (and readable as text at their `agent-pool-run:` URI). A conversation has one document, titled after its first prompt, and each turn
 * is appended to it; a one-off prompt gets its own. Chunks are appended in memory and the editor is
 * told to re-read at most every `flushMs`, so a fast agent does not flood it with updates.
 */
export class TranscriptProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly texts = new Map<string, string>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly byConversation = new Map<string, vscode.Uri>();
  private nextDocument = 1;

  constructor(private readonly flushMs = 100) {}

  /** Starts a turn: in the conversation's document (made on its first turn), or a new one for a one-off prompt. */
  beginTurn(options: { conversation?: string; title: string; prompt: string; who: string }): TranscriptTurn {
    let uri = options.conversation === undefined ? undefined : this.byConversation.get(options.conversation);
    if (!uri) {
      // The file name is what the tab shows: the title, made safe for a path.
      const name = options.title.replace(/[\\/:*?"<>|#%\n\r\t]+/g, ' ').trim().slice(0, 60) || 'Prompt';
      uri = vscode.Uri.from({ scheme: TRANSCRIPT_SCHEME, path: `/${this.nextDocument++}/${name}.md` });
      this.texts.set(uri.toString(), `# ${escapeMarkdownLine(options.title)}\n`);
      if (options.conversation !== undefined) this.byConversation.set(options.conversation, uri);
    }
    const target = uri;
    this.append(target, `\n---\n\n**You**\n\n${quote(options.prompt)}\n\n**${escapeMarkdownLine(options.who)}**\n\n`);
    return {
      uri: target,
      append: (text) => this.append(target, text),
      note: (markdown) => this.append(target, `\n\n${markdown}\n\n`),
      finish: (footer) => {
        this.append(target, `\n\n*${footer}*\n`);
        this.flush(target);
      },
    };
  }

  /** Forgets a closed conversation's document: its next prompt starts a new one. */
  forget(conversation: string): void {
    this.byConversation.delete(conversation);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** The transcript as it stands; for tests and the API. */
  textOf(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  private append(uri: vscode.Uri, text: string): void {
    const key = uri.toString();
    this.texts.set(key, (this.texts.get(key) ?? '') + text);
    if (!this.pending.has(key)) this.pending.set(key, setTimeout(() => this.flush(uri), this.flushMs));
  }

  private flush(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.delete(key);
    this.changed.fire(uri);
  }

  dispose(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.changed.dispose();
  }
}

/** The prompt as a Markdown quote, each of its lines kept as a line (a directive line, then text): hard breaks. */
function quote(prompt: string): string {
  return prompt
    .trimEnd()
    .split('\n')
    .map((line) => `> ${line}`)
    .join('  \n');
}

function escapeMarkdownLine(text: string): string {
  return text.replace(/\n/g, ' ').replace(/([*_`#[\]])/g, '\\$1');
}
