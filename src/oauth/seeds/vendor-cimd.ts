/**
 * @module oauth/seeds/vendor-cimd
 * Client ID metadata documents of well-known MCP clients, shipped so their first sign-in does not
 * depend on a fetch that vendor CDNs sometimes refuse from datacenter addresses (a Cloudflare
 * challenge answers 403; docs/authorization.md §Policy choices). Written as the documents are publicly described;
 * the broker refreshes them from the network when it can, and a fetched document, once valid,
 * replaces the seed in the cache.
 * Sources: claude.com/docs/connectors/building/authentication; anthropics/claude-ai-mcp#518
 * (the claude.ai document lists only the claude.ai callback); Claude Code's loopback callbacks;
 * ChatGPT: developers.openai.com/apps-sdk/build/auth (CIMD, PKCE, `resource` echoed), its stable
 * callback as used by connectors (makeplane/plane-mcp-server PR#165, kunickiaj/codemem PR#1286).
 */

/** Seed documents by `client_id` (each document's `client_id` equals its key). */
export const VENDOR_CIMD_SEEDS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = Object.freeze({
  'https://claude.ai/oauth/mcp-oauth-client-metadata': Object.freeze({
    client_id: 'https://claude.ai/oauth/mcp-oauth-client-metadata',
    client_name: 'Claude',
    client_uri: 'https://claude.ai',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }),
  'https://claude.ai/oauth/claude-code-client-metadata': Object.freeze({
    client_id: 'https://claude.ai/oauth/claude-code-client-metadata',
    client_name: 'Claude Code',
    client_uri: 'https://claude.ai',
    // Loopback redirect URIs: any port matches (RFC 8252 §7.3).
    redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }),
  // ChatGPT uses its stable callback only with a server that advertises and returns RFC 9207
  // `iss`, as this broker does; the per-connector `/connector/oauth/<id>` callbacks cannot be
  // listed ahead of time and come with the fetched document. The document also allows
  // `private_key_jwt`, which this broker does not verify yet: the seed is a public client (PKCE).
  'https://chatgpt.com/oauth/client.json': Object.freeze({
    client_id: 'https://chatgpt.com/oauth/client.json',
    client_name: 'ChatGPT',
    client_uri: 'https://chatgpt.com',
    redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }),
});
