import * as vscode from 'vscode';

export const TRANSCRIPT_SCHEME = 'agent-pool-run';

/**
 * Read-only documents that show a prompt's answer as it streams in. Each run gets its own
 * `agent-pool-run:/run-N.md` document; chunks are appended in memory and the editor is told to
 * re-read at most every `flushMs`, so a fast agent does not flood the editor with updates.
 */
export class TranscriptProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly texts = new Map<string, string>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private nextRun = 1;

  constructor(private readonly flushMs = 100) {}

  create(title: string): { uri: vscode.Uri; append(text: string): void; finish(footer: string): void } {
    const uri = vscode.Uri.from({ scheme: TRANSCRIPT_SCHEME, path: `/run-${this.nextRun++}.md` });
    this.texts.set(uri.toString(), `# ${title}\n\n`);
    return {
      uri,
      append: (text) => this.append(uri, text),
      finish: (footer) => {
        this.append(uri, `\n\n---\n${footer}\n`);
        this.flush(uri);
      },
    };
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
