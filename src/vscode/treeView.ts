import * as vscode from 'vscode';
import { AGENTS_VIEW_ID } from './constants';
import type { TreeNode } from './treeModel';
import { TreeReconciler } from './treeReconciler';

/**
 * The Agent Pool view. The model (buildTree) is rebuilt on demand from the current state, the
 * reconciler keeps each row's object stable and names the rows whose content changed, and only
 * those are redrawn: a heartbeat or a ticking age redraws nothing, so a tooltip stays open while it
 * is read. Tooltips are filled on hover (resolveTreeItem) from the latest build. getChildren has no
 * side effects; refreshes are debounced; a badge counts busy agents.
 */
export class AgentTreeView implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | TreeNode[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<TreeNode>;
  private readonly reconciler = new TreeReconciler();
  private timer: NodeJS.Timeout | undefined;
  private badgeValue = 0;
  private rowsDrawn = 0;
  private readonly recentlyDrawn: string[] = [];

  constructor(
    private readonly buildNodes: () => TreeNode[],
    private readonly busyCount: () => number,
    private readonly debounceMs = 200,
  ) {
    this.view = vscode.window.createTreeView(AGENTS_VIEW_ID, { treeDataProvider: this, showCollapseAll: true });
    this.refreshNow();
  }

  get treeView(): vscode.TreeView<TreeNode> {
    return this.view;
  }

  /** The nodes as last built; lets tests assert on what the user sees. */
  get currentRoots(): readonly TreeNode[] {
    return this.reconciler.roots;
  }

  /** How many rows VS Code has asked us to draw so far (each getTreeItem call is one row drawn). */
  get rowsDrawnCount(): number {
    return this.rowsDrawn;
  }

  scheduleRefresh(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshNow();
    }, this.debounceMs);
  }

  refreshNow(): void {
    const { rootsChanged, changed } = this.reconciler.update(this.buildNodes());
    if (rootsChanged) this.changed.fire(undefined);
    else if (changed.length > 0) this.changed.fire(changed);
    const busy = this.busyCount();
    if (busy !== this.badgeValue) {
      this.badgeValue = busy;
      this.view.badge = busy > 0 ? { value: busy, tooltip: `${busy} agent${busy === 1 ? '' : 's'} busy` } : undefined;
    }
  }

  /** The ids of the last rows drawn, newest last; says which rows a redraw touched. */
  get lastRowsDrawn(): readonly string[] {
    return this.recentlyDrawn;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    this.rowsDrawn++;
    this.recentlyDrawn.push(`${node.id}: ${node.description ?? ''}`);
    if (this.recentlyDrawn.length > 50) this.recentlyDrawn.shift();
    const collapsible = node.children
      ? node.expanded
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.label, collapsible);
    item.id = node.id;
    item.description = node.description;
    item.contextValue = node.contextValue;
    if (node.command) item.command = { command: node.command.id, title: node.command.title };
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
    return item;
  }

  resolveTreeItem(item: vscode.TreeItem, node: TreeNode): vscode.TreeItem {
    item.tooltip = this.reconciler.get(node.id)?.tooltip ?? node.tooltip;
    return item;
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? (node.children ?? []) : [...this.reconciler.roots];
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.view.dispose();
    this.changed.dispose();
  }
}
