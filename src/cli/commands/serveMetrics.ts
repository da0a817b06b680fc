import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cliBackend } from '../backend';
import { PROMETHEUS_CONTENT_TYPE, toPrometheus } from '../../core/metrics/prometheus';
import type { CliContext } from '../context';
import { CliError, EXIT_OK } from '../io';

/** Loopback only: metrics name workspaces and must not be readable from the network. */
export const METRICS_HOST = '127.0.0.1';

export async function serveMetricsCommand(context: CliContext, options: { port: number }): Promise<number> {
  const { io } = context;
  const aggregator = cliBackend(context).createMetricsView({ log: (message) => io.err(`${message}\n`) });
  await aggregator.start();
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Use GET\n');
      return;
    }
    // The watcher keeps the view fresh; a refresh here costs one stat per file and makes a scrape exact.
    void aggregator.refresh().then((view) => {
      response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(request.method === 'HEAD' ? undefined : toPrometheus(view));
    });
  });
  try {
    await listen(server, options.port);
  } catch (error) {
    aggregator.dispose();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`Port ${options.port} is already in use on ${METRICS_HOST}. Choose another with --port <n>.`);
    if (code === 'EACCES') throw new CliError(`Not allowed to listen on port ${options.port}. Use a port above 1023 with --port <n>.`);
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  io.out(`Serving metrics at http://${METRICS_HOST}:${port}/metrics (Ctrl-C to stop)\n`);
  await context.deps.untilInterrupted();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.();
  aggregator.dispose();
  return EXIT_OK;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, METRICS_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
