/**
 * @module mcp/protocol
 * JSON-RPC and MCP constants and small helpers the relay shares: the protocol revisions the
 * streamable HTTP front serves, version negotiation, error codes and message shapes.
 * @see MCP 2025-11-25 basic/lifecycle §version-negotiation, basic/transports §streamable-http
 */
import { RAW_LINE_MIN_BYTES, materialize, parseJsonBytes, rawLiteralsOnlyIn } from '../lib/raw-json.js';
import { readBodyBytes, readBodyText } from '../lib/request-body.js';

/** Revisions the front serves with sessions (newest first). 2026-07-28 is a front-end addition. */
export const FRONT_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const;
/** Also accepted in `MCP-Protocol-Version` so clients that negotiated it keep working. */
export const ACCEPTED_HEADER_VERSIONS = [...FRONT_PROTOCOL_VERSIONS, '2024-11-05'];
/**
 * The 400 for an `MCP-Protocol-Version` header the session front does not accept; undefined when
 * none was sent or it is accepted (MCP 2025-11-25 basic/transports §protocol-version-header).
 */
export function unsupportedVersion(header: string | null): Response | undefined {
  if (header === null || ACCEPTED_HEADER_VERSIONS.includes(header)) return undefined;
  return httpRpcError(400, -32000, `Bad Request: Unsupported protocol version: ${header} (supported versions: ${ACCEPTED_HEADER_VERSIONS.join(', ')})`);
}
/** What the broker asks of the child in its own handshake. */
export const CHILD_PROTOCOL_VERSION = '2025-11-25';

/** JSON-RPC 2.0 §5.1 codes plus the MCP/SDK server range. */
export const RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INTERNAL_ERROR: -32603,
  /** Server-defined (-32000..-32099): the child is unavailable (died, cannot start, at capacity). */
  SERVER_UNAVAILABLE: -32002,
  SESSION_NOT_FOUND: -32001,
} as const;

export type Id = string | number;
export interface RpcMessage {
  jsonrpc: '2.0';
  id?: Id | null;
  method?: string;
  params?: Record<string, unknown> & { _meta?: Record<string, unknown> };
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export const isRequest = (m: RpcMessage): boolean => typeof m.method === 'string' && m.id !== undefined && m.id !== null;
export const isResponse = (m: RpcMessage): boolean => m.method === undefined && (m.result !== undefined || m.error !== undefined);

/** Negotiates per MCP lifecycle §version-negotiation: the client's version if served, else ours. */
export function negotiateVersion(requested: unknown): string {
  return typeof requested === 'string' && (FRONT_PROTOCOL_VERSIONS as readonly string[]).includes(requested)
    ? requested
    : FRONT_PROTOCOL_VERSIONS[0];
}

export function rpcError(id: Id | null | undefined, code: number, message: string, data?: unknown): RpcMessage {
  return { jsonrpc: '2.0', id: id ?? null, error: data === undefined ? { code, message } : { code, message, data } };
}

/** A JSON-RPC error as an HTTP response (used before a session exists). */
export function httpRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(rpcError(null, code, message)), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * Reads and parses a JSON-RPC POST body of at most `maxBytes` (FJMCP_MAX_BODY_BYTES), for `/mcp`
 * and the legacy messages endpoint. A body declared at least {@link RAW_LINE_MIN_BYTES} long is
 * read as bytes and its large strings inside a `tools/call`'s `arguments` stay bytes on their way
 * to the child (lib/raw-json; anywhere else they are decoded: the relay reads ids, methods and
 * progress tokens). @returns the parsed value, or the HTTP error to send: 400 -32700 when the body
 * cannot be read or is not JSON, 413 when it is larger than `maxBytes`.
 */
export async function readRpcBody(req: Request, maxBytes: number): Promise<{ parsed: unknown } | Response> {
  const declared = Number(req.headers.get('content-length') ?? 0);
  const large = declared >= RAW_LINE_MIN_BYTES;
  const body = await (large ? readBodyBytes(req, maxBytes) : readBodyText(req, maxBytes)).catch(() => undefined);
  if (!body) return httpRpcError(400, RPC.PARSE_ERROR, 'Parse error: the request body could not be read');
  if (body.tooLarge) return httpRpcError(413, RPC.INVALID_REQUEST, `request body larger than ${maxBytes} bytes (FJMCP_MAX_BODY_BYTES)`);
  try {
    if ('text' in body) return { parsed: JSON.parse(body.text) };
    const parsed = parseJsonBytes(body.chunks) as RpcMessage;
    const args = parsed.method === 'tools/call' && isObject(parsed.params) ? parsed.params.arguments : undefined;
    return { parsed: rawLiteralsOnlyIn(parsed, args) ? parsed : materialize(parsed) };
  } catch {
    return httpRpcError(400, RPC.PARSE_ERROR, 'Parse error: Invalid JSON');
  }
}

/** Capability a server→client request needs from the session it is routed to. */
export function capabilityFor(method: string): string | undefined {
  if (method === 'sampling/createMessage') return 'sampling';
  if (method === 'elicitation/create') return 'elicitation';
  if (method === 'roots/list') return 'roots';
  return undefined;
}

/** Most messages in one JSON-RPC batch (the SDK transport's bound, kept for the same clients). */
export const MAX_BATCH_MESSAGES = 100;

const isId = (v: unknown): boolean => typeof v === 'string' || Number.isSafeInteger(v);
/** True for a JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const only = (r: Record<string, unknown>, keys: ReadonlySet<string>): boolean => Object.keys(r).every((k) => keys.has(k));
const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const RESULT_KEYS = new Set(['jsonrpc', 'id', 'result']);
const ERROR_KEYS = new Set(['jsonrpc', 'id', 'error']);

/**
 * True for one JSON-RPC 2.0 message as MCP defines them: a request (string or integer id), a
 * notification, a result response (object result) or an error response (integer code, string
 * message); no other top-level members, params an object with an object `_meta` if any. The same
 * set the MCP SDK's `JSONRPCMessageSchema` accepts, checked without building a copy.
 * @see MCP 2025-11-25 basic §messages; JSON-RPC 2.0 §4, §5
 */
export function isRpcMessage(m: unknown): m is RpcMessage {
  if (!isObject(m) || m.jsonrpc !== '2.0') return false;
  if (typeof m.method === 'string') {
    if (!only(m, REQUEST_KEYS) || (m.id !== undefined && !isId(m.id))) return false;
    if (m.params === undefined) return true;
    if (!isObject(m.params)) return false;
    const meta = m.params._meta;
    if (meta === undefined) return true;
    return isObject(meta) && (meta.progressToken === undefined || isId(meta.progressToken));
  }
  if ('result' in m) return only(m, RESULT_KEYS) && isId(m.id) && isObject(m.result);
  if ('error' in m) {
    const e = m.error;
    return only(m, ERROR_KEYS) && (m.id === undefined || isId(m.id)) && isObject(e) && Number.isSafeInteger(e.code) && typeof e.message === 'string';
  }
  return false;
}

/** True when a `Content-Type` value's media type is `application/json` (parameters ignored). */
export function isJsonContentType(header: string | null): boolean {
  return header?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}
