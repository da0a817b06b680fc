import * as vscode from 'vscode';
import { AGENTS_VIEW_ID } from './constants';
import type { TreeNode } from './treeModel';

/**
 * The Agent Pool view. The model (buildTree) is computed on demand from the current state;
 * getChildren has no side effects; refreshes are debounced; a badge counts busy agents.
 */
export class AgentTreeView implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<TreeNode>;
  private roots: TreeNode[] = [];
  private timer: NodeJS.Timeout | undefined;

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

  /** The nodes as last rendered; lets tests assert on what the user sees. */
  get currentRoots(): readonly TreeNode[] {
    return this.roots;
  }

  scheduleRefresh(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshNow();
    }, this.debounceMs);
  }

  refreshNow(): void {
    this.roots = this.buildNodes();
    const busy = this.busyCount();
    this.view.badge = busy > 0 ? { value: busy, tooltip: `${busy} agent${busy === 1 ? '' : 's'} busy` } : undefined;
    this.changed.fire(undefined);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const collapsible = node.children
      ? node.expanded
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.label, collapsible);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color ? new vscode.ThemeColor(node.icon.color) : undefined);
    return item;
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? (node.children ?? []) : this.roots;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.view.dispose();
    this.changed.dispose();
  }
}
