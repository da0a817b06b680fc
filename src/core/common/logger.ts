/**
 * The little the core needs from a log: VS Code's LogOutputChannel, the console and test
 * collectors all fit it.
 */
export interface CoreLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const consoleLogger: CoreLogger = {
  info: (message) => console.info(`[agent-pool] ${message}`),
  warn: (message) => console.warn(`[agent-pool] ${message}`),
  error: (message) => console.error(`[agent-pool] ${message}`),
};

export const silentLogger: CoreLogger = { info() {}, warn() {}, error() {} };
