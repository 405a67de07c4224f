/**
 * @module oauth/resource
 * RFC 8707 resource indicators: the only resource the broker issues tokens for is its own MCP
 * endpoint. Scheme and host compare case-insensitively (the URL parser lowercases them) and one
 * trailing slash is tolerated; anything else is `invalid_target`.
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
import type { Config } from '../config.js';
import { OAuthError } from './errors.js';

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

/**
 * The resource a request is for: `config.mcpUrl` when absent or naming it.
 * @throws {OAuthError} `invalid_target` for any other resource.
 */
export function checkResource(raw: string | undefined, config: Config): string {
  if (raw === undefined || raw === '') return config.mcpUrl;
  if (normalise(raw) !== normalise(config.mcpUrl)) {
    throw new OAuthError('invalid_target', `this server issues tokens only for the resource ${config.mcpUrl}`);
  }
  return config.mcpUrl;
}
