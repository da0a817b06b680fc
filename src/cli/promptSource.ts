import { readFileSync } from 'node:fs';
import { errorMessage } from '../core/common/errors';
import { ExitCode } from './exitCodes';
import { CliError } from './io';

/** Where `run` reads its prompt: the argument, a file (`-f FILE`), or stdin (`-` or `-f -`). */
export interface PromptSourceOptions {
  argument: string | undefined;
  file: string | undefined;
}

export type PromptSource = { kind: 'argument'; text: string } | { kind: 'file'; path: string } | { kind: 'stdin' };

/** Exactly one source, or a usage error naming what was given. */
export function choosePromptSource(options: PromptSourceOptions): PromptSource {
  const { argument, file } = options;
  if (argument !== undefined && file !== undefined) {
    throw new CliError(`Give the prompt once: as an argument, with -f FILE, or "-" for stdin, not both "${argument.slice(0, 40)}" and -f ${file}.`, ExitCode.usage);
  }
  if (file === '-' || argument === '-') return { kind: 'stdin' };
  if (file !== undefined) return { kind: 'file', path: file };
  if (argument !== undefined) return { kind: 'argument', text: argument };
  throw new CliError('No prompt: give it as an argument (quoted), with -f FILE, or "-" to read it from stdin.', ExitCode.usage);
}

/**
 * The prompt text, whole and unchanged (its first line may be a directive, e.g. `/demo latency=200`).
 * A trailing newline from an editor or `echo` is dropped; an empty prompt is a usage error.
 */
export async function readPrompt(source: PromptSource, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text: string;
  let from: string;
  switch (source.kind) {
    case 'argument':
      text = source.text;
      from = 'The prompt argument';
      break;
    case 'file':
      from = `Prompt file ${source.path}`;
      try {
        text = readFileSync(source.path, 'utf8');
      } catch (error) {
        throw new CliError(`Cannot read the prompt file ${source.path}: ${errorMessage(error)}. Give a readable text file with -f FILE.`, ExitCode.usage);
      }
      break;
    case 'stdin':
      from = 'The prompt read from stdin';
      text = await readAll(stdin);
      break;
  }
  text = text.replace(/\r?\n$/, '');
  if (text.trim() === '') throw new CliError(`${from} is empty: there is nothing to send.`, ExitCode.usage);
  return text;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
