import * as vscode from 'vscode';
import { Commands, ContextKeys } from './constants';

const PROMPT_DOCUMENT = 'Agent Pool Prompt.md';

/**
 * Where a prompt is typed. A one-liner goes in an input box (Enter sends); a prompt of several lines
 * (a `/demo …` directive line, then text) in an editor opened from the input box's button or with
 * Run Prompt's `editor` argument, sent with the editor's Send button or Ctrl+Enter. The editor is an
 * untitled Markdown document that is closed, unsaved, once sent.
 */
export class PromptInput implements vscode.Disposable {
  private readonly waiting = new Map<string, (text: string | undefined) => void>();
  private readonly disposables: vscode.Disposable[];

  constructor() {
    this.disposables = [
      vscode.commands.registerCommand(Commands.sendPrompt, (uri?: vscode.Uri) => this.send(uri)),
      vscode.workspace.onDidCloseTextDocument((document) => this.settle(document.uri, undefined)),
      vscode.window.onDidChangeActiveTextEditor((editor) => this.updateContext(editor)),
    ];
  }

  /** The prompt, or undefined when dismissed. */
  async ask(title: string, options: { editor?: boolean } = {}): Promise<string | undefined> {
    if (options.editor) return this.inEditor('');
    const box = vscode.window.createInputBox();
    box.title = title;
    box.prompt = 'What should the agent do? Enter sends. For several lines (a directive line, then text), use the editor button on the right.';
    box.placeholder = 'e.g. fix the failing test in src/login.ts';
    box.ignoreFocusOut = true;
    const editorButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('note'), tooltip: 'Write a prompt of several lines in an editor' };
    box.buttons = [editorButton];
    const answer = await new Promise<{ text?: string; editor?: boolean }>((resolve) => {
      box.onDidAccept(() => resolve({ text: box.value }));
      box.onDidTriggerButton((button) => button === editorButton && resolve({ text: box.value, editor: true }));
      box.onDidHide(() => resolve({}));
      box.show();
    });
    box.dispose();
    if (answer.editor) return this.inEditor(answer.text ?? '');
    return answer.text?.trim() ? answer.text : undefined;
  }

  private async inEditor(initial: string): Promise<string | undefined> {
    const uri = vscode.Uri.from({ scheme: 'untitled', path: PROMPT_DOCUMENT });
    // One prompt editor at a time: an earlier one still open is given up.
    this.settle(uri, undefined);
    const document = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(document, { preview: false });
    if (initial || document.getText()) {
      await editor.edit((edit) => edit.replace(new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)), initial));
    }
    const text = new Promise<string | undefined>((resolve) => this.waiting.set(uri.toString(), resolve));
    this.updateContext(vscode.window.activeTextEditor);
    void vscode.window.setStatusBarMessage('Agent Pool: write the prompt, then Send ($(send) above the editor, or Ctrl+Enter)', text.then(() => undefined));
    return text;
  }

  /** Sends the prompt editor's text (the active one, or `uri`), and closes it without saving. */
  private async send(uri?: vscode.Uri): Promise<boolean> {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    const resolve = target && this.waiting.get(target.toString());
    if (!target || !resolve) return false;
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    const text = document?.getText() ?? '';
    if (!text.trim()) {
      void vscode.window.showWarningMessage('Agent Pool: the prompt is empty; write what the agent should do, then Send.');
      return false;
    }
    this.settle(target, text);
    if (document) {
      await vscode.window.showTextDocument(document, { preview: false });
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    }
    return true;
  }

  private settle(uri: vscode.Uri, text: string | undefined): void {
    const resolve = this.waiting.get(uri.toString());
    if (!resolve) return;
    this.waiting.delete(uri.toString());
    resolve(text);
    this.updateContext(vscode.window.activeTextEditor);
  }

  private updateContext(editor: vscode.TextEditor | undefined): void {
    const active = editor !== undefined && this.waiting.has(editor.document.uri.toString());
    void vscode.commands.executeCommand('setContext', ContextKeys.promptEditor, active);
  }

  dispose(): void {
    for (const resolve of this.waiting.values()) resolve(undefined);
    this.waiting.clear();
    for (const disposable of this.disposables) disposable.dispose();
  }
}
