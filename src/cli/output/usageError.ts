import { ExitCode } from '../exitCodes';
import type { CliIo } from '../io';
import { emptyRunOutcome, RunEventWriter } from './runEvents';

/** True when the words ask for `run --format json`, read before commander has parsed them. */
export function wantsRunEvents(args: string[]): boolean {
  if (!args.includes('run')) return false;
  return args.some((arg, index) => arg === '--format=json' || (arg === '--format' && args[index + 1] === 'json'));
}

/** The `done` line of a `run --format json` whose command line commander refused (exit code 2). */
export function usageErrorEvent(args: string[], message: string, io: CliIo): void {
  if (!wantsRunEvents(args)) return;
  new RunEventWriter((line) => io.out(line), performance.now()).emit({
    type: 'done',
    ...emptyRunOutcome(ExitCode.usage),
    outcome: 'usage',
    error: { code: 'CLI_USAGE', message: message.replace(/^error: /, '') },
  });
}
