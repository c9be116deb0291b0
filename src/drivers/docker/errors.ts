/**
 * Turning whatever dockerode, docker-modem, node:http/https or a timer throws into a DriverError
 * that names the node, what was being done, and whether a retry can help.
 */
import { DriverError } from '../driver.ts';

/** The shape of dockerode's rejections (an Error with the engine's status and body) and of socket errors. */
interface EngineErrorShape {
  readonly message?: unknown;
  readonly statusCode?: unknown;
  readonly json?: unknown;
  readonly code?: unknown;
  readonly reason?: unknown;
}

export function statusOf(err: unknown): number | undefined {
  if (err instanceof EngineFault) return err.statusCode;
  const s = (err as EngineErrorShape | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** The engine's own message from a dockerode error (`json.message`), else the error's message. */
export function engineMessage(err: unknown): string {
  const e = err as EngineErrorShape | null;
  const json = e?.json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') {
    return ((json as { message: string }).message).trim();
  }
  if (typeof json === 'string' && json.trim()) return json.trim();
  if (e && typeof e.message === 'string') {
    // dockerode: "(HTTP code 500) server error - engine exploded " → the part after the dash
    const m = /^\(HTTP code \d+\) [^-]*- (.*)$/s.exec(e.message);
    return (m ? m[1]! : e.message).trim();
  }
  return String(err);
}

/** An engine answer that the driver itself judged (e.g. a 200 load stream that reports an error). */
export class EngineFault extends Error {
  constructor(message: string, readonly statusCode?: number) {
    super(message);
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN',
  'ENETDOWN', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET', 'ENOENT', 'EAGAIN',
  'ERR_STREAM_PREMATURE_CLOSE', 'ABORT_ERR',
]);

function describeCode(code: string, message: string): string {
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (is the engine running?)';
    case 'ECONNRESET': return 'connection reset by the engine';
    case 'ENOENT': return `socket not found (${message})`;
    case 'ETIMEDOUT': return 'connection timed out';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `network unreachable (${message})`;
    case 'EPIPE': return 'connection closed while sending (broken pipe)';
    default: return `${message} [${code}]`;
  }
}

/** Node's TLS failures by their code (OpenSSL's ERR_SSL_*, Node's ERR_TLS_*, the X.509 verify codes). */
function isTlsError(code: string): boolean {
  return /^ERR_SSL_|^ERR_TLS_|CERT|^EPROTO$|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);
}

export function toDriverError(node: string, endpoint: string, what: string, err: unknown): DriverError {
  if (err instanceof DriverError) return err;
  const where = `node ${node} (${endpoint})`;
  const status = statusOf(err);
  if (status !== undefined) {
    const transient = status >= 500 || status === 408 || status === 429;
    return new DriverError(`${where}: ${what}: engine answered ${status}: ${engineMessage(err)}`, transient, node, status);
  }
  const e = err as EngineErrorShape | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (isTlsError(code)) {
    const alert = /alert ([a-z ]+?)(?::|$)/i.exec(message)?.[1];
    const detail = alert ? `the engine refused this client (TLS alert: ${alert})` : message.split('\n')[0]!;
    return new DriverError(
      `${where}: ${what}: TLS handshake failed: ${detail}${code ? ` [${code}]` : ''} ` +
      `(check the node's tls ca/cert/key files and that the engine trusts this client's certificate)`,
      false, node);
  }
  if (code && TRANSIENT_CODES.has(code)) {
    return new DriverError(`${where}: ${what}: ${describeCode(code, message)}`, true, node);
  }
  return new DriverError(`${where}: ${what}: ${message}${code ? ` [${code}]` : ''}`, false, node);
}
