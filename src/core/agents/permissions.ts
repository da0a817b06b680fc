import type { PermissionHandler, PermissionPolicy, PermissionRequest } from './adapter';

/** Tool kinds that only look: what `allowReadOnly` lets through without asking. */
export const READ_ONLY_TOOL_KINDS: ReadonlySet<string> = new Set(['read', 'search', 'fetch', 'think']);

type OptionKind = PermissionRequest['options'][number]['kind'];

function pick(request: PermissionRequest, preferred: OptionKind[]): string | undefined {
  for (const kind of preferred) {
    const option = request.options.find((candidate) => candidate.kind === kind);
    if (option) return option.optionId;
  }
  return undefined;
}

/** Once-only answers first: a policy decision should not silently become a standing grant. */
const ALLOW: OptionKind[] = ['allow_once', 'allow_always'];
const REJECT: OptionKind[] = ['reject_once', 'reject_always'];

/**
 * Answers an agent's permission request under the profile's policy. Returns the chosen optionId, or
 * undefined for "cancelled" (the turn was cancelled, or the agent offered no fitting option).
 */
export async function decidePermission(
  policy: PermissionPolicy,
  request: PermissionRequest,
  handler: PermissionHandler | undefined,
  signal: AbortSignal,
): Promise<string | undefined> {
  switch (policy) {
    case 'allowAll':
      return pick(request, ALLOW) ?? pick(request, REJECT);
    case 'reject':
      return pick(request, REJECT);
    case 'allowReadOnly':
      return READ_ONLY_TOOL_KINDS.has(request.toolCall.kind ?? '') ? pick(request, ALLOW) : pick(request, REJECT);
    case 'ask': {
      // No one to ask (a headless CLI run): refusing is the only answer that cannot do harm.
      if (!handler) return pick(request, REJECT);
      if (signal.aborted) return undefined;
      const answer = await handler(request, signal);
      if (signal.aborted || answer.optionId === undefined) return undefined;
      return request.options.some((option) => option.optionId === answer.optionId) ? answer.optionId : pick(request, REJECT);
    }
  }
}
