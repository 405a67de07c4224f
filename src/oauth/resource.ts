/**
 * @module oauth/resource
 * RFC 8707 resource indicators. The broker issues tokens only for its own protected resources:
 * the MCP endpoint of each server it serves (`/mcp`, `/mcp/<name>`). Scheme and host compare
 * case-insensitively (the URL parser lowercases them) and one trailing slash is tolerated;
 * anything else is `invalid_target`.
 *
 * An authorization may name several resources (RFC 8707 §2: `resource` repeated); the
 * transaction, grant and authorization code keep them as one space-separated list (a URI holds
 * no space). Every access token has exactly one audience: the resource the token request names,
 * or the first one authorized (RFC 8707 §2.2 lets the server pick when the client names none).
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
import { OAuthError } from './errors.js';

/** One protected resource (RFC 9728 §2): an MCP server of this broker. */
export interface ProtectedResource {
  /** The resource identifier: the server's MCP URL (e.g. `https://mcp.example.org/mcp/robot`). */
  url: string;
  /** The server's name (`default` for `/mcp`), carried into the principal, logs and audit. */
  server: string;
  /** Human name, shown on the consent page and as `resource_name`. */
  title: string;
}

/** Normal form used for comparison: parsed href without a trailing slash on the path. */
function normalise(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.hash || raw.includes('#')) return undefined; // RFC 8707 §2: MUST NOT include a fragment.
    return u.href.replace(/\/$/, '');
  } catch {
    return undefined;
  }
}

/** The resource `raw` names, or undefined when it names none of `resources`. */
export function findResource(raw: string, resources: readonly ProtectedResource[]): ProtectedResource | undefined {
  const n = normalise(raw);
  return n === undefined ? undefined : resources.find((r) => normalise(r.url) === n);
}

const refuse = (resources: readonly ProtectedResource[]) =>
  new OAuthError('invalid_target', `this server issues tokens only for the resource${resources.length > 1 ? 's' : ''} ${resources.map((r) => r.url).join(', ')}`);

/**
 * The resource a request is for: the first of `resources` (the server at `/mcp`) when absent,
 * else the one it names.
 * @throws {OAuthError} `invalid_target` for any other resource.
 */
export function checkResource(raw: string | undefined, resources: readonly ProtectedResource[]): string {
  if (raw === undefined || raw === '') return resources[0]!.url;
  const r = findResource(raw, resources);
  if (!r) throw refuse(resources);
  return r.url;
}

/**
 * The resources of an authorization request (`raw`: the space-joined `resource` values), each
 * once, in the order named; the server at `/mcp` when none is named.
 * @throws {OAuthError} `invalid_target` when any names none of `resources`.
 */
export function checkResources(raw: string | undefined, resources: readonly ProtectedResource[]): string[] {
  if (raw === undefined || raw === '') return [resources[0]!.url];
  const out: string[] = [];
  for (const one of raw.split(' ')) {
    const url = checkResource(one, resources);
    if (!out.includes(url)) out.push(url);
  }
  return out;
}

/** The resources of a stored list (transaction, grant, code, refresh token). */
export const resourceList = (stored: string): string[] => stored.split(' ').filter(Boolean);

/**
 * The audience of a token minted from an authorization over `authorized` (a stored list): the
 * resource the token request names, which must be one of them, or the first.
 * @throws {OAuthError} `invalid_target`.
 */
export function audienceOf(requested: string | undefined, authorized: string, resources: readonly ProtectedResource[]): string {
  const list = resourceList(authorized);
  if (requested === undefined) return list[0]!;
  const url = checkResource(requested, resources);
  if (!list.includes(url)) throw new OAuthError('invalid_target', 'resource differs from the authorization request');
  return url;
}
