import type { CoordinationBackend } from '../core/backend/backend';
import { localBackend } from '../core/backend/localBackend';
import type { CliContext } from './context';

/** The backend a command reads and registers through: the file backend in the registry directory. */
export function cliBackend(context: Pick<CliContext, 'directory'>): CoordinationBackend {
  return localBackend(context.directory);
}
