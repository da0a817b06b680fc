import * as vscode from 'vscode';
import type { AggregateView } from '../core/metrics/aggregate';
import { renderMetricsHtml, type MetricsExtras } from './metricsHtml';

/** The Show Metrics view: one webview panel, re-rendered (debounced) while it is visible. */
export class MetricsPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly view: () => AggregateView,
    private readonly extras: () => MetricsExtras = () => ({}),
  ) {}

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** The HTML last shown; for tests. */
  get html(): string | undefined {
    return this.panel?.webview.html;
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal();
    } else {
      this.panel = vscode.window.createWebviewPanel('agentPool.metrics', 'Agent Pool Metrics', vscode.ViewColumn.Active, {
        enableScripts: false,
        retainContextWhenHidden: false,
      });
      this.panel.onDidDispose(() => (this.panel = undefined));
      // Renders are skipped while hidden; catch up when the panel is shown again.
      this.panel.onDidChangeViewState((event) => event.webviewPanel.visible && this.render());
    }
    this.render();
  }

  scheduleRender(): void {
    if (!this.panel?.visible || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, 250);
  }

  private render(): void {
    if (!this.panel) return;
    this.panel.webview.html = renderMetricsHtml(this.view(), { cspSource: this.panel.webview.cspSource }, this.extras());
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.panel?.dispose();
  }
}
