import { writeFileSync } from 'node:fs';
import { registryPaths } from '../../core/directory/layout';
import { errorMessage } from '../../core/common/errors';
import { TranscriptStore } from '../../core/conversations/transcriptStore';
import type { CliContext } from '../context';
import { ExitCode } from '../exitCodes';
import { CliError } from '../io';
import { exportJson, exportMarkdown, type ExportFormat } from '../output/transcriptExport';
import { conversationJson, readConversationOrFail } from './conversations';

export interface ExportOptions {
  format?: ExportFormat;
  /** `-o FILE`; stdout when omitted or `-`. */
  output?: string;
}

/**
 * `agent-pool conversations export NAME`: the conversation's transcript (every turn from a window,
 * the API or `run --session`, and where its context was lost), as Markdown or JSON. Reads the
 * files only: no pool starts, and a turn running meanwhile is simply not in it yet.
 */
export async function conversationsExportCommand(context: CliContext, name: string, options: ExportOptions): Promise<number> {
  const record = await readConversationOrFail(context, name);
  const transcript = await new TranscriptStore(registryPaths(context.directory).conversations).read(name);
  for (const problem of transcript.problems) context.io.err(`agent-pool: warning: part of the transcript was not read: ${problem}\n`);
  if (transcript.skippedLines > 0) context.io.err(`agent-pool: warning: ${transcript.skippedLines} line(s) of the transcript of "${name}" were not whole or not ours, and were skipped\n`);
  const conversation = conversationJson(record);
  const text = options.format === 'json' ? `${JSON.stringify(exportJson(conversation, transcript), null, 2)}\n` : exportMarkdown(conversation, transcript);
  if (options.output === undefined || options.output === '-') {
    context.io.out(text);
    return ExitCode.ok;
  }
  try {
    // Prompts and answers may hold secrets: a new file is the user's alone, like the transcript itself.
    writeFileSync(options.output, text, { mode: 0o600 });
  } catch (error) {
    throw new CliError(`Could not write the transcript of "${name}" to ${options.output}: ${errorMessage(error)}. Choose another path with -o, or leave -o out for stdout.`, ExitCode.failure);
  }
  const turns = transcript.entries.filter((entry) => entry.type === 'turn').length;
  context.io.err(`Wrote the transcript of "${name}" (${turns} turn${turns === 1 ? '' : 's'}) to ${options.output}.\n`);
  return ExitCode.ok;
}
