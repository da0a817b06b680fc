/**
 * Keeps the tree's nodes stable across rebuilds and says which ones changed, so the view redraws
 * only those rows. VS Code identifies a row by the element object it was given, so each id keeps
 * one object for its lifetime; a rebuild copies new content into it. No `vscode` import.
 *
 * A row changes when what it shows changes: label, description, icon, menus, or its list of
 * children (then its parent refreshes it with them). The tooltip is copied without counting as a
 * change: it carries ages and figures that move all the time, and is read on hover.
 */
import type { TreeNode } from './treeModel';

export interface Reconciled {
  /** The top-level list itself changed (a section appeared or went): redraw everything. */
  rootsChanged: boolean;
  /** The smallest set of stable nodes to redraw; none is inside another. */
  changed: TreeNode[];
}

export class TreeReconciler {
  private stable = new Map<string, TreeNode>();
  private rootNodes: TreeNode[] = [];

  get roots(): readonly TreeNode[] {
    return this.rootNodes;
  }

  /** The stable node of `id`, for hover and command arguments. */
  get(id: string): TreeNode | undefined {
    return this.stable.get(id);
  }

  update(fresh: readonly TreeNode[]): Reconciled {
    const next = new Map<string, TreeNode>();
    const changed: TreeNode[] = [];
    const adopt = (node: TreeNode, parentChanged: boolean): TreeNode => {
      const existing = this.stable.get(node.id);
      const target = existing ?? { ...node, children: undefined };
      const selfChanged = existing !== undefined && !sameRow(existing, node);
      const childrenChanged = existing !== undefined && !sameIds(existing.children, node.children);
      if (existing) copyInto(existing, node);
      const redrawn = parentChanged || existing === undefined || selfChanged || childrenChanged;
      if (existing && (selfChanged || childrenChanged) && !parentChanged) changed.push(target);
      target.children = node.children?.map((child) => adopt(child, redrawn));
      next.set(node.id, target);
      return target;
    };
    const rootsChanged = !sameIds(this.rootNodes, fresh);
    const roots = fresh.map((node) => adopt(node, rootsChanged));
    this.stable = next;
    this.rootNodes = roots;
    return { rootsChanged, changed: rootsChanged ? [] : changed };
  }
}

/** Makes `target` show what `source` shows, keeping its identity (children are adopted separately). */
function copyInto(target: TreeNode, source: TreeNode): void {
  const record = target as unknown as Record<string, unknown>;
  for (const key of Object.keys(record)) if (key !== 'children' && !(key in source)) delete record[key];
  Object.assign(target, { ...source, children: target.children });
}

function sameRow(a: TreeNode, b: TreeNode): boolean {
  return (
    a.label === b.label &&
    a.description === b.description &&
    a.contextValue === b.contextValue &&
    a.command?.id === b.command?.id &&
    a.icon?.id === b.icon?.id &&
    a.icon?.color === b.icon?.color &&
    (a.children === undefined) === (b.children === undefined)
  );
}

function sameIds(a: readonly TreeNode[] | undefined, b: readonly TreeNode[] | undefined): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && a.every((node, index) => node.id === b[index].id);
}
