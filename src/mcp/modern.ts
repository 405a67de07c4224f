/**
 * @module mcp/modern
 * MCP 2026-07-28 on the same `/mcp` URL as the 2025 sessions, decided per request by the body:
 * the SDK v2's `classifyInboundRequest` sorts each POST into legacy (the session path, unchanged),
 * modern, or a rejection; this module adds the standard-header rung the SDK does not export, the
 * supported-version check, and the answers the broker gives itself (`server/discover`, removed
 * methods). Forwarded requests travel the same path as a session's: `person.receive(call, msg)`.
 * @see MCP 2026-07-28 basic/transports/streamable-http §request-metadata, §server-validation;
 *      basic/versioning; schema DiscoverResult, CacheableResult
 */
import { CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY, PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY, classifyInboundRequest } from '@modelcontextprotocol/server';
import { FRONT_PROTOCOL_VERSIONS, RPC, isObject, type Id, type RpcMessage } from './protocol.js';

/** Modern revisions served (stateless, per-request `_meta`). */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const;
/** Every revision `/mcp` serves, newest first: `supportedVersions` and `-32022`'s `supported`. */
export const ALL_PROTOCOL_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...FRONT_PROTOCOL_VERSIONS];

/** 2026-07-28 error codes (schema: HeaderMismatchError, MissingRequiredClientCapabilityError, UnsupportedProtocolVersionError). */
export const MODERN_RPC = { HEADER_MISMATCH: -32020, MISSING_CLIENT_CAPABILITY: -32021, UNSUPPORTED_VERSION: -32022 } as const;

/**
 * Spec methods of the 2025 revisions that 2026-07-28 removed: 404 + -32601
 * (streamable-http §protocol-version-header). Other unknown methods go to the child, as on the
 * 2025 path, so extension methods still pass.
 */
const REMOVED_METHODS = new Set([
  'initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe',
  'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel',
]);
/** Results that carry `ttlMs` and `cacheScope` (CacheableResult, SEP-2549). */
const CACHEABLE = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);
/**
 * `ttlMs` of cacheable results: 0, because the broker cannot know when the child's lists or
 * resources change; clients that want changes open `subscriptions/listen`. Always
 * `cacheScope: "private"`: every result comes from the person's own child, under their token.
 */
export const CACHE_TTL_MS = 0;
/** Envelope keys the broker consumes; the 2025-11-25 child never sees them. */
const ENVELOPE_KEYS = [PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY];
/** `Mcp-Name` source per method (streamable-http §standard-request-headers). */
const NAME_SOURCE: Record<string, 'name' | 'uri'> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };
/** RFC 5424 severities in the order MCP uses (server/utilities/logging). */
const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

export interface ModernRequest {
  msg: RpcMessage & { id: Id; method: string };
  version: string;
  /** `_meta["io.modelcontextprotocol/logLevel"]`: the lowest severity the client wants; none → no logs. */
  logLevel: string | undefined;
}

export type Inbound =
  | { kind: 'legacy' }
  | { kind: 'reject'; response: Response }
  | { kind: 'notification' }
  | ({ kind: 'modern' } & ModernRequest);

function claimOf(body: unknown): unknown {
  if (!isObject(body) || !isObject(body.params) || !isObject(body.params._meta)) return undefined;
  return body.params._meta[PROTOCOL_VERSION_META_KEY];
}

const isModernVersion = (v: string | undefined): boolean => v !== undefined && v >= MODERN_PROTOCOL_VERSIONS[0];

/** A JSON-RPC error as an HTTP response, with the request's id when it has one. */
export function rpcErrorResponse(status: number, id: Id | null | undefined, code: number, message: string, data?: unknown): Response {
  const error = data === undefined ? { code, message } : { code, message, data };
  return new Response(JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error }), { status, headers: { 'content-type': 'application/json' } });
}

/** Decodes the `=?base64?…?=` sentinel (streamable-http §value-encoding); undefined when malformed. */
function decodeHeaderValue(v: string): string | undefined {
  const m = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(v);
  if (!v.startsWith('=?base64?')) return v;
  if (!m) return undefined;
  return Buffer.from(m[1]!, 'base64').toString('utf8');
}

/**
 * Sorts one POST body. Legacy bodies (no `_meta` claim, no modern `MCP-Protocol-Version`) always
 * go to the session path, whatever the SDK's ladder says about them, so 2025 clients see exactly
 * what they saw before. Never throws.
 */
export function classify(req: Request, body: unknown): Inbound {
  const h = req.headers;
  const claim = claimOf(body);
  let versionHeader = h.get('mcp-protocol-version')?.trim() || undefined;
  // anthropics/claude-code#93290: claude.ai connectors send `MCP-Protocol-Version: 2025-11-25` with
  // a 2026-07-28 body. The broker is the endpoint that executes the body, so the body decides;
  // only this exact pair is tolerated, every other disagreement is -32020.
  if (versionHeader === '2025-11-25' && claim === '2026-07-28') versionHeader = claim;
  // Nothing claims 2026-07-28: the session path, without the SDK ladder's schema parsing.
  if (claim === undefined && !isModernVersion(versionHeader)) return { kind: 'legacy' };
  const input = {
    httpMethod: req.method,
    protocolVersionHeader: versionHeader,
    mcpMethodHeader: h.get('mcp-method') ?? undefined,
    mcpNameHeader: h.get('mcp-name') ?? undefined,
    body,
  };
  const route = classifyInboundRequest(input);
  if (route.kind === 'legacy') return { kind: 'legacy' };
  const id = isObject(body) && (typeof body.id === 'string' || typeof body.id === 'number') ? body.id : null;
  if (route.kind === 'reject') {
    return { kind: 'reject', response: rpcErrorResponse(route.httpStatus, id, route.code, route.message, route.data) };
  }
  const version = route.classification.revision ?? (typeof claim === 'string' ? claim : versionHeader);
  if (!version || !(MODERN_PROTOCOL_VERSIONS as readonly string[]).includes(version)) {
    return { kind: 'reject', response: rpcErrorResponse(400, id, MODERN_RPC.UNSUPPORTED_VERSION, `Unsupported protocol version: ${version ?? '(none)'}`, { supported: ALL_PROTOCOL_VERSIONS, requested: version }) };
  }
  // 2026-07-28 defines no client notification over HTTP: accepted and dropped (202).
  if (route.messageKind === 'notification') return { kind: 'notification' };
  const msg = route.message as unknown as ModernRequest['msg'];
  const mismatch = (what: string) => ({ kind: 'reject' as const, response: rpcErrorResponse(400, id, MODERN_RPC.HEADER_MISMATCH, `Header mismatch: ${what}`) });
  // The standard-header rung (§server-validation); the SDK keeps its own version of it internal.
  if (!versionHeader) return mismatch('the required MCP-Protocol-Version header is missing');
  if (input.mcpMethodHeader === undefined) return mismatch('the required Mcp-Method header is missing');
  const source = NAME_SOURCE[msg.method];
  const bodyName = source && isObject(msg.params) ? msg.params[source] : undefined;
  if (typeof bodyName === 'string') {
    if (input.mcpNameHeader === undefined) return mismatch(`the required Mcp-Name header is missing (params.${source} is "${bodyName}")`);
    const named = decodeHeaderValue(input.mcpNameHeader.trim());
    if (named === undefined) return mismatch('the Mcp-Name header carries an invalid Base64 sentinel');
    if (named !== bodyName) return mismatch(`Mcp-Name header value '${named}' does not match body value '${bodyName}'`);
  }
  const meta = (msg.params?._meta ?? {}) as Record<string, unknown>;
  const level = meta[LOG_LEVEL_META_KEY];
  return { kind: 'modern', msg, version, logLevel: typeof level === 'string' ? level : undefined };
}

/** Whether the broker answers `method` with 404 -32601 on the modern path. */
export const isRemovedMethod = (method: string): boolean => REMOVED_METHODS.has(method);

/** Removes the envelope keys from a modern request's `_meta` before it goes to the child. */
export function stripEnvelope(msg: RpcMessage): void {
  const meta = msg.params?._meta;
  if (!meta) return;
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) if (!ENVELOPE_KEYS.includes(k)) rest[k] = v;
  msg.params = { ...msg.params };
  if (Object.keys(rest).length) msg.params._meta = rest;
  else delete msg.params._meta;
}

/** True when a log message of `level` reaches a client that asked for `wanted` (none → nothing). */
export function logWanted(level: unknown, wanted: string | undefined): boolean {
  if (wanted === undefined) return false;
  const w = LOG_LEVELS.indexOf(wanted);
  const l = LOG_LEVELS.indexOf(typeof level === 'string' ? level : '');
  return w >= 0 && l >= w;
}

/**
 * Makes a child's 2025-11-25 result a 2026-07-28 one, in place: `resultType: "complete"`; on
 * cacheable results `ttlMs` (the child's if it gave one) and `cacheScope: "private"`; no
 * `execution` on tools (removed in 2026-07-28).
 */
export function modernizeResult(method: string, msg: RpcMessage): void {
  const r = msg.result;
  if (!isObject(r)) return;
  r.resultType ??= 'complete';
  if (CACHEABLE.has(method)) {
    if (typeof r.ttlMs !== 'number') r.ttlMs = CACHE_TTL_MS;
    r.cacheScope = 'private';
  }
  if (method === 'tools/list' && Array.isArray(r.tools)) {
    r.tools = r.tools.map((t: unknown) => {
      if (!isObject(t) || !('execution' in t)) return t;
      const { execution: _execution, ...rest } = t;
      return rest;
    });
  }
}

/** Server capabilities 2026-07-28 knows (schema ServerCapabilities; `tasks` left the core). */
const MODERN_SERVER_CAPABILITIES = ['experimental', 'logging', 'completions', 'prompts', 'resources', 'tools', 'extensions'];

/** `server/discover`'s result, built from the child's cached InitializeResult. */
export function discoverResult(init: Record<string, unknown>): Record<string, unknown> {
  const caps = isObject(init.capabilities) ? init.capabilities : {};
  const capabilities: Record<string, unknown> = {};
  for (const k of MODERN_SERVER_CAPABILITIES) if (caps[k] !== undefined) capabilities[k] = caps[k];
  return {
    resultType: 'complete',
    supportedVersions: ALL_PROTOCOL_VERSIONS,
    capabilities,
    ...(typeof init.instructions === 'string' ? { instructions: init.instructions } : {}),
    ttlMs: CACHE_TTL_MS,
    cacheScope: 'private',
    _meta: { [SERVER_INFO_META_KEY]: init.serverInfo },
  };
}

export { RPC };
