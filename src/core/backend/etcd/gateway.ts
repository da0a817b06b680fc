import * as http from 'node:http';
import * as https from 'node:https';
import { AgentPoolError, errorMessage } from '../../common/errors';

/**
 * etcd's own JSON gateway (`/v3/...` over HTTP/1.1, the gRPC API as JSON), with no client library:
 * chosen over the `etcd3` package (see the commit and README) because it adds nothing to the bundle
 * and nothing to load, and because lease loss is judged by our own monotonic deadline, not by a
 * library that reports it after twice the TTL on the wall clock.
 *
 * Requests go to one endpoint at a time; a connection failure moves to the next. Keys and values are
 * base64 on the wire: `b64` / `text` convert.
 */
export interface EtcdGatewayOptions {
  endpoints: string[];
  /** PEM contents (not paths): the CA that signed the members' certificates, and a client certificate. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  username?: string;
  password?: string;
  /** Per request, unless the call gives its own. Default 3000. */
  requestTimeoutMs?: number;
}

export class EtcdError extends AgentPoolError {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'rejected',
    options?: { cause?: unknown },
  ) {
    super('ETCD_ERROR', message, options);
    this.name = 'EtcdError';
  }
}

export const b64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64');
export const text = (value: string | undefined): string => (value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8'));
/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      bytes[i]!++;
      return bytes.subarray(0, i + 1).toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

export interface KeyValue {
  key: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  lease?: string;
}

export interface Header {
  revision?: string;
}

export interface Watching {
  cancel(): void;
}

export class EtcdGateway {
  private current = 0;
  private token: string | undefined;
  private readonly agent: http.Agent;

  constructor(private readonly options: EtcdGatewayOptions) {
    if (options.endpoints.length === 0) throw new EtcdError('no etcd endpoint is set (setting agentPool.etcd.endpoints)', 'rejected');
    const secure = options.endpoints.some((endpoint) => endpoint.startsWith('https:'));
    this.agent = secure
      ? new https.Agent({ keepAlive: true, ca: options.tls?.ca, cert: options.tls?.cert, key: options.tls?.key })
      : new http.Agent({ keepAlive: true });
  }

  get endpoint(): string {
    return this.options.endpoints[this.current % this.options.endpoints.length]!;
  }

  get endpoints(): string[] {
    return [...this.options.endpoints];
  }

  /** One call; on a connection failure the next endpoints are tried once each. */
  async call<T>(path: string, body: object, timeoutMs = this.options.requestTimeoutMs ?? 3000): Promise<T> {
    let lastError: unknown;
    for (let tried = 0; tried < this.options.endpoints.length; tried++) {
      try {
        if (this.options.username && this.token === undefined) await this.authenticate(timeoutMs);
        return await this.request<T>(this.endpoint, path, body, timeoutMs);
      } catch (error) {
        lastError = error;
        if (error instanceof EtcdError && error.kind === 'rejected') {
          if (/auth token|invalid auth/i.test(error.message) && this.options.username) {
            this.token = undefined;
            continue;
          }
          throw error;
        }
        this.current++;
      }
    }
    throw lastError instanceof EtcdError ? lastError : new EtcdError(errorMessage(lastError), 'unreachable', { cause: lastError });
  }

  /**
   * A watch stream on the current endpoint: `onResult` gets every response object (created, events,
   * canceled), `onEnd` once, when the stream ends or fails. Reconnecting is the caller's (it re-lists first).
   */
  watch(body: object, onResult: (result: { header?: Header; events?: Array<{ type?: 'PUT' | 'DELETE'; kv: KeyValue; prev_kv?: KeyValue }>; canceled?: boolean }) => void, onEnd: (error?: Error) => void): Watching {
    let ended = false;
    const end = (error?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(error);
    };
    const url = new URL('/v3/watch', this.endpoint);
    const request = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', agent: this.agent, headers: this.headers() }, (response) => {
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
          const line = buffer.slice(0, at).trim();
          buffer = buffer.slice(at + 1);
          if (!line) continue;
          try {
            const parsed = JSON.parse(line) as { result?: object; error?: { message?: string } };
            if (parsed.error) return end(new EtcdError(`etcd watch: ${parsed.error.message ?? JSON.stringify(parsed.error)}`, 'rejected'));
            if (parsed.result) onResult(parsed.result);
          } catch (error) {
            end(new EtcdError(`etcd watch sent something that is not JSON: ${errorMessage(error)}`, 'rejected'));
          }
        }
      });
      response.on('end', () => end());
      response.on('error', (error) => end(error));
    });
    request.on('error', (error) => {
      this.current++;
      end(new EtcdError(`etcd at ${url.origin} is unreachable: ${errorMessage(error)}`, 'unreachable', { cause: error }));
    });
    request.end(JSON.stringify(body));
    return {
      cancel: () => {
        ended = true;
        request.destroy();
      },
    };
  }

  dispose(): void {
    this.agent.destroy();
  }

  private headers(): Record<string, string> {
    return { 'content-type': 'application/json', ...(this.token ? { authorization: this.token } : {}) };
  }

  private async authenticate(timeoutMs: number): Promise<void> {
    const answer = await this.request<{ token?: string }>(this.endpoint, '/v3/auth/authenticate', { name: this.options.username, password: this.options.password ?? '' }, timeoutMs);
    if (!answer.token) throw new EtcdError(`etcd at ${this.endpoint} gave no token for user ${this.options.username}`, 'rejected');
    this.token = answer.token;
  }

  private request<T>(endpoint: string, path: string, body: object, timeoutMs: number): Promise<T> {
    const url = new URL(path, endpoint);
    return new Promise<T>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', agent: this.agent, headers: this.headers(), timeout: timeoutMs }, (response) => {
        let data = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (data += chunk));
        response.on('end', () => {
          let parsed: { error?: string; message?: string } & Record<string, unknown>;
          try {
            parsed = JSON.parse(data || '{}');
          } catch {
            return reject(new EtcdError(`etcd at ${url.origin} answered ${path} with something that is not JSON (HTTP ${response.statusCode}): ${data.slice(0, 200)}`, 'unreachable'));
          }
          if ((response.statusCode ?? 500) >= 300 || parsed.error) {
            const detail = parsed.message ?? parsed.error ?? `HTTP ${response.statusCode}`;
            // Unavailable members (no leader, quorum lost, timeouts) are worth another member or a retry.
            const kind = response.statusCode === 503 || /leader|timed out|unavailable|timeout/i.test(String(detail)) ? 'unreachable' : 'rejected';
            return reject(new EtcdError(`etcd at ${url.origin} refused ${path}: ${detail}`, kind));
          }
          resolve(parsed as T);
        });
        response.on('error', (error) => reject(new EtcdError(`etcd at ${url.origin}: ${errorMessage(error)}`, 'unreachable', { cause: error })));
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on('error', (error) => reject(new EtcdError(`etcd at ${url.origin} is unreachable: ${errorMessage(error)}`, 'unreachable', { cause: error })));
      request.end(JSON.stringify(body));
    });
  }
}
