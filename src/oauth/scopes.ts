/**
 * @module oauth/scopes
 * The broker has one scope, `mcp`: access to the MCP endpoint as the signed-in person. What the
 * person may do on the forge is decided by the forge (and FJMCP_FORGE_SCOPES), not by broker
 * scopes. Requested scopes are parsed leniently (clients send `claudeai`, `"read write"`,
 * `" offline_access"`; docs/authorization.md §Policy choices): unknown ones are ignored and `mcp` is granted.
 */

/** Advertised in metadata and named in the 401 challenge (no `offline_access`, MCP 2026-07-28). */
export const SCOPES_SUPPORTED = ['mcp'] as const;
export const DEFAULT_SCOPE = 'mcp';

/** Splits a scope parameter on any whitespace (RFC 6749 §3.3), dropping empties. */
export function parseScope(raw: string | undefined): string[] {
  return (raw ?? '').split(/\s+/).filter(Boolean);
}

/** The scope granted for a request: always `mcp` (unknown scopes are ignored, not refused). */
export function grantedScope(_requested: string | undefined): string {
  return DEFAULT_SCOPE;
}
