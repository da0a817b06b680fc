import * as vscode from 'vscode';
import { AGENTS_VIEW_ID, Commands } from './vscode/constants';

/** Wires the parts together; everything with a lifetime goes into context.subscriptions. */
export function activate(context: vscode.ExtensionContext) {
  const log = vscode.window.createOutputChannel('Agent Pool', { log: true });
  context.subscriptions.push(log);

  const statusItem = vscode.window.createStatusBarItem('agentPool.status', vscode.StatusBarAlignment.Left, 100);
  statusItem.name = 'Agent Pool';
  statusItem.text = '$(hubot) 0/0 (1)';
  statusItem.command = Commands.showActions;
  statusItem.show();
  context.subscriptions.push(statusItem);

  const emptyTree: vscode.TreeDataProvider<string> = {
    getTreeItem: (label) => new vscode.TreeItem(label),
    getChildren: () => ['This Window'],
  };
  context.subscriptions.push(vscode.window.createTreeView(AGENTS_VIEW_ID, { treeDataProvider: emptyTree }));
  context.subscriptions.push(vscode.commands.registerCommand(Commands.showLog, () => log.show()));
  log.info('Agent Pool activated');
  return {};
}

export function deactivate(): void {}
