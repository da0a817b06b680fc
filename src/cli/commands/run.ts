import type { CliContext } from '../context';
import { CliError } from '../io';

export interface RunOptions {
  profile: string;
}

/**
 * `agent-pool run`: a headless pool that registers like a window and streams the answer. It needs
 * the registry, the slot-file budget, the pool and the adapters wired together; until that wiring
 * exists (see the lead's note in the metrics/CLI report) it says so instead of half-working.
 */
export async function runCommand(_context: CliContext, options: RunOptions, prompt: string): Promise<number> {
  void prompt;
  throw new CliError(
    `agent-pool run --profile ${options.profile} is not available in this build yet: the headless pool is not wired into the CLI.\n` +
      'Run the prompt from VS Code meanwhile (command "Agent Pool: Run Prompt…").',
  );
}
