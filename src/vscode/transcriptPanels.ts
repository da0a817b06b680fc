import * as vscode from 'vscode';
import { errorMessage } from '../core/common/errors';
import type { TranscriptProvider } from './transcripts';

/**
 * Shows transcripts rendered: one webview panel per transcript (so one per conversation), whose
 * Markdown is rendered by VS Code's own Markdown extension (`markdown.api.render`) and re-rendered,
 * at most every `debounceMs`, as the transcript grows. VS Code's Markdown preview does not follow a
 * content provider's changes reliably in every host, so the panel is ours. No script runs in it.
 */
export class TranscriptPanels implements vscode.Disposable {
  private readonly panels = new Map<string, { panel: vscode.WebviewPanel; timer?: NodeJS.Timeout; rendering?: Promise<void>; again?: boolean; shown: string[] }>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly transcripts: TranscriptProvider,
    private readonly log: vscode.LogOutputChannel,
    private readonly debounceMs = 150,
  ) {
    this.subscription = transcripts.onDidChange((uri) => this.schedule(uri));
  }

  /** Opens (or reveals) the transcript's panel beside the editor, without taking focus. */
  async show(uri: vscode.Uri): Promise<void> {
    const key = uri.toString();
    const existing = this.panels.get(key);
    if (existing) {
      existing.panel.reveal(undefined, true);
    } else {
      const title = decodeURIComponent(uri.path.split('/').pop() ?? 'Transcript').replace(/\.md$/, '');
      const panel = vscode.window.createWebviewPanel('agentPool.transcript', title, { viewColumn: vscode.ViewColumn.Active, preserveFocus: true }, { enableScripts: false, enableFindWidget: true });
      const entry = { panel, shown: [] as string[] };
      this.panels.set(key, entry);
      panel.onDidDispose(() => {
        clearTimeout(this.panels.get(key)?.timer);
        this.panels.delete(key);
      });
    }
    await this.render(uri);
  }

  /** The HTML bodies a transcript's panel was given, oldest first (for tests: what streamed into it). */
  shownBodies(uri: string): readonly string[] {
    return this.panels.get(uri)?.shown ?? [];
  }

  private schedule(uri: vscode.Uri): void {
    const entry = this.panels.get(uri.toString());
    if (!entry || entry.timer) return;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.render(uri);
    }, this.debounceMs);
  }

  private async render(uri: vscode.Uri): Promise<void> {
    const entry = this.panels.get(uri.toString());
    if (!entry) return;
    // One render at a time per panel; a change during one renders once more after it.
    if (entry.rendering) {
      entry.again = true;
      return entry.rendering;
    }
    entry.rendering = (async () => {
      do {
        entry.again = false;
        const markdown = this.transcripts.textOf(uri);
        const body = await renderMarkdown(markdown).catch((error) => {
          this.log.debug(`rendering a transcript as Markdown failed (${errorMessage(error)}); shown as text`);
          return `<pre>${escapeHtml(markdown)}</pre>`;
        });
        if (!this.panels.has(uri.toString())) return;
        entry.shown.push(body);
        if (entry.shown.length > 50) entry.shown.shift();
        entry.panel.webview.html = page(body, entry.panel.webview.cspSource);
      } while (entry.again);
    })().finally(() => (entry.rendering = undefined));
    return entry.rendering;
  }

  dispose(): void {
    this.subscription.dispose();
    for (const { panel, timer } of this.panels.values()) {
      clearTimeout(timer);
      panel.dispose();
    }
    this.panels.clear();
  }
}

async function renderMarkdown(markdown: string): Promise<string> {
  const html = await vscode.commands.executeCommand<string>('markdown.api.render', markdown);
  if (typeof html !== 'string') throw new Error('markdown.api.render returned no HTML');
  return html;
}

function page(body: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'unsafe-inline'; img-src ${cspSource} https: data:;">
<style>
body { font-family: var(--vscode-markdown-font-family, var(--vscode-font-family)); font-size: var(--vscode-markdown-font-size, 14px); color: var(--vscode-foreground); max-width: 920px; padding: 0 26px 24px; line-height: 1.5; }
blockquote { margin: 0; padding: 4px 12px; border-left: 4px solid var(--vscode-textBlockQuote-border); background: var(--vscode-textBlockQuote-background); }
code, pre { font-family: var(--vscode-editor-font-family); } pre { background: var(--vscode-textCodeBlock-background); padding: 8px; overflow-x: auto; }
hr { border: 0; border-top: 1px solid var(--vscode-panel-border); }
</style></head><body>
${body}
</body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
