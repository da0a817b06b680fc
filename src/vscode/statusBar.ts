import * as vscode from 'vscode';
import { Commands } from './constants';
import { renderStatus, StatusInput, StatusView } from './statusModel';

/**
 * The one status bar item. It re-renders from a single state getter, debounced, and writes to the
 * item only what changed, so frequent updates from other windows never make it flicker.
 */
export class StatusBarController implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private timer: NodeJS.Timeout | undefined;
  private shown: StatusView | undefined;

  constructor(
    private readonly readState: () => StatusInput,
    private readonly debounceMs = 150,
  ) {
    this.item = vscode.window.createStatusBarItem('agentPool.status', vscode.StatusBarAlignment.Left, 100);
    this.item.name = 'Agent Pool';
    this.item.command = Commands.showActions;
    this.renderNow();
    this.item.show();
  }

  /** The text currently shown; for tests and the API. */
  get text(): string {
    return this.item.text;
  }

  get view(): StatusView | undefined {
    return this.shown;
  }

  scheduleRender(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.renderNow();
    }, this.debounceMs);
  }

  renderNow(): void {
    const view = renderStatus(this.readState());
    const previous = this.shown;
    this.shown = view;
    if (previous?.text !== view.text) this.item.text = view.text;
    if (previous?.tooltip !== view.tooltip) this.item.tooltip = new vscode.MarkdownString(view.tooltip, true);
    if (previous?.background !== view.background || !previous) {
      this.item.backgroundColor = view.background ? new vscode.ThemeColor(`statusBarItem.${view.background}Background`) : undefined;
    }
    if (previous?.accessibilityLabel !== view.accessibilityLabel) {
      this.item.accessibilityInformation = { label: view.accessibilityLabel, role: 'button' };
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.item.dispose();
  }
}
