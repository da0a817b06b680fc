/**
 * What the status bar shows, computed by a pure function from one read-only state object, so the
 * text, tooltip and colour can be tested without VS Code (house style: git's statusbar.ts).
 * No `vscode` import here on purpose.
 */
import { formatContextUse, formatCostUsd, formatTokens } from '../core/conversations/conversation';
export interface StatusInput {
  agentsHere: number;
  agentsAll: number;
  windows: number;
  busy: number;
  idle: number;
  starting: number;
  queued: number;
  p95Ms?: number;
  errorRate: number;
  budget: { cap: number; used: number; unavailableReason?: string };
  circuits: Array<{ profile: string; state: 'closed' | 'open' | 'half-open'; reason?: string }>;
  windowList: Array<{ name: string; agents: number; busy: number; health: string; isSelf: boolean; heartbeatAgeMs: number }>;
  /** Why this window cannot start agents at all (Restricted Mode, no profile, budget directory unusable). */
  cannotStartReason?: string;
  /** Tokens, cost and context per window (this one first) and across all of them. */
  usage?: { windows: WindowUsage[]; all: UsageFigures };
}

export interface UsageFigures {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Context in use summed over the conversations held, against their windows summed; absent when no agent reported it. */
  context?: { used: number; size: number; conversations: number };
}

export interface WindowUsage extends UsageFigures {
  name: string;
  isSelf: boolean;
}

export interface StatusView {
  text: string;
  /** Markdown. */
  tooltip: string;
  background?: 'warning' | 'error';
  accessibilityLabel: string;
}

export function renderStatus(input: StatusInput): StatusView {
  const working = input.starting > 0 || input.busy > 0;
  const icon = working ? '$(sync~spin)' : '$(hubot)';
  const text = `${icon} ${input.agentsHere}/${input.agentsAll} (${input.windows})`;
  const openCircuits = input.circuits.filter((c) => c.state !== 'closed');
  const budgetExhausted = input.budget.used >= input.budget.cap;
  let background: StatusView['background'];
  if (input.cannotStartReason || input.budget.unavailableReason) background = 'error';
  else if (budgetExhausted || openCircuits.length > 0) background = 'warning';

  const lines: string[] = ['**Agent Pool**', ''];
  const problem = input.cannotStartReason ?? input.budget.unavailableReason;
  if (problem) lines.push(`$(error) ${escapeMarkdown(problem)}`, '');
  lines.push(
    `| | |`,
    `|---|---|`,
    `| This window | ${plural(input.agentsHere, 'agent')}: ${input.busy} busy, ${input.idle} idle, ${input.starting} starting |`,
    `| All windows | ${plural(input.agentsAll, 'agent')} in ${plural(input.windows, 'window')} |`,
    `| Budget | ${input.budget.used} of ${input.budget.cap} slots${budgetExhausted ? ' (exhausted)' : ''} |`,
    `| Queued | ${input.queued} |`,
    `| p95 | ${formatDuration(input.p95Ms)} |`,
    `| Errors | ${formatPercent(input.errorRate)} |`,
  );
  if (input.usage) lines.push(...usageLines(input.usage));
  if (input.windowList.length > 0) {
    lines.push('', '**Windows**', '');
    for (const w of input.windowList) {
      const marker = w.health === 'live' ? '' : ` — ${w.health}`;
      lines.push(`- ${escapeMarkdown(w.name)}${w.isSelf ? ' (this window)' : ''}: ${plural(w.agents, 'agent')}, ${w.busy} busy${marker}`);
    }
  }
  if (input.circuits.length > 0) {
    lines.push('', '**Circuits**', '');
    for (const c of input.circuits) {
      const icon = c.state === 'closed' ? '$(pass)' : c.state === 'open' ? '$(error)' : '$(warning)';
      lines.push(`- ${icon} ${escapeMarkdown(c.profile)}: ${c.state}${c.reason ? ` — ${escapeMarkdown(c.reason)}` : ''}`);
    }
  }
  lines.push('', '_Click for actions_');

  const accessibilityLabel =
    `Agent Pool: ${plural(input.agentsHere, 'agent')} in this window, ${input.agentsAll} in all ${plural(input.windows, 'window')}` +
    (working ? `, ${input.busy} busy` : '') +
    (background === 'error' ? `, cannot start agents: ${problem}` : '') +
    (background === 'warning' ? (budgetExhausted ? ', budget exhausted' : ', a circuit is open') : '');
  return { text, tooltip: lines.join('\n'), background, accessibilityLabel };
}

/** Tokens, cost and context per window and in all: the figures a person pays for. */
function usageLines(usage: NonNullable<StatusInput['usage']>): string[] {
  const row = (name: string, figures: UsageFigures) =>
    `| ${name} | ${formatTokens(figures.inputTokens + figures.outputTokens)} | ${formatCostUsd(figures.costUsd)} | ${figures.context ? contextText(figures.context) : '–'} |`;
  return [
    '',
    '**Usage**',
    '',
    '| | Tokens | Cost | Context |',
    '|---|---|---|---|',
    ...usage.windows.map((w) => row(`${escapeMarkdown(w.name)}${w.isSelf ? ' (this window)' : ''}`, w)),
    ...(usage.windows.length > 1 ? [row('All windows', usage.all)] : []),
  ];
}

/** "15k/200k (7.5%) in 1 conversation". */
export function contextText(context: NonNullable<UsageFigures['context']>): string {
  return `${formatContextUse({ contextUsed: context.used, contextSize: context.size || undefined })} in ${plural(context.conversations, 'conversation')}`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1) return 'under 1 ms';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)}%`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
