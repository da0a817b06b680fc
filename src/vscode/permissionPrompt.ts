import * as vscode from 'vscode';
import type { PermissionHandler } from '../core/agents/adapter';

/**
 * The "ask" permission policy: a modal that shows the tool call and offers exactly the agent's own
 * options. Closing the dialog, or the turn being cancelled, answers "cancelled".
 */
export const askInModal: PermissionHandler = async (request, signal) => {
  if (signal.aborted) return {};
  const call = request.toolCall;
  const detail = [
    call.kind ? `Kind: ${call.kind}` : undefined,
    call.toolCallId ? `Tool call: ${call.toolCallId}` : undefined,
    `Session: ${request.sessionId}`,
    '',
    truncate(JSON.stringify(call.raw, null, 2), 1500),
  ]
    .filter((line) => line !== undefined)
    .join('\n');
  const choices = request.options.map((option) => ({ title: option.name, optionId: option.optionId, isCloseAffordance: false }));
  const picked = await Promise.race([
    vscode.window.showWarningMessage(
      `Agent "${request.profile}" asks permission: ${call.title ?? call.kind ?? 'use a tool'}`,
      { modal: true, detail },
      ...choices,
    ),
    new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true })),
  ]);
  return { optionId: picked?.optionId };
};

function truncate(text: string | undefined, max: number): string {
  if (!text) return '';
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
