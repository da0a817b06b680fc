import { cliBackend } from '../backend';
import type { AggregateView } from '../../core/metrics/aggregate';
import { formatCompact, formatFull, formatJson, formatUsage } from '../../core/metrics/formats';
import type { CliContext } from '../context';
import { EXIT_OK } from '../io';

export interface StatusOptions {
  compact?: boolean;
  json?: boolean;
  watch?: boolean;
}

export async function statusCommand(context: CliContext, options: StatusOptions): Promise<number> {
  const { io, directory } = context;
  const render = (view: AggregateView): string =>
    options.json ? formatJson(view, { indent: options.watch ? 0 : 2 }) : options.compact ? formatCompact(view) : formatFull(view);
  const aggregator = cliBackend(context).createMetricsView({ log: (message) => io.err(`${message}\n`) });
  try {
    if (!options.watch) {
      const view = await aggregator.refresh();
      io.out(`${render(view)}\n`);
      // The one-line forms stay one line; the full text goes on with what the agents used.
      if (!options.json && !options.compact) for (const line of formatUsage(view)) io.out(`${line}\n`);
      if (view.windows.length === 0 && !options.json) io.err(noWindowsHint(directory));
      return EXIT_OK;
    }
    let shown = '';
    const show = (view: AggregateView): void => {
      const text = render(view);
      if (text === shown) return;
      shown = text;
      // On a terminal the line is redrawn in place; in a pipe every change is a new line.
      io.out(io.isTty && !options.json ? `\r\x1b[2K${text}` : `${text}\n`);
    };
    const subscription = aggregator.onDidChange(show);
    show(await aggregator.start());
    await context.deps.untilInterrupted();
    subscription.dispose();
    if (io.isTty && !options.json) io.out('\n');
    return EXIT_OK;
  } finally {
    aggregator.dispose();
  }
}

export function noWindowsHint(directory: string): string {
  return (
    `No window is registered in ${directory}.\n` +
    'Start VS Code with Agent Pool, or point to another registry directory with --dir <path>.\n'
  );
}
