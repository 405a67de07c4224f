/**
 * @module oauth/metadata
 * Discovery documents. The issuer is `config.issuer` byte for byte everywhere (RFC 8414 §3.3;
 * MCP 2026-07-28 clients compare it with the URL they built), and the protected resource is
 * `config.mcpUrl` (RFC 9728 §2).
 */
import type { Config } from '../config.js';
import { CLIENT_ASSERTION_ALGS, SUPPORTED_AUTH_METHODS } from './client-metadata.js';
import type { ProtectedResource } from './resource.js';
import { SCOPES_SUPPORTED } from './scopes.js';

/** RFC 8414 §2 authorization server metadata (also served as OpenID configuration). */
export function authorizationServerMetadata(config: Config): Record<string, unknown> {
  const i = config.issuer;
  return {
    issuer: i,
    authorization_endpoint: `${i}/authorize`,
    token_endpoint: `${i}/token`,
    registration_endpoint: `${i}/register`,
    revocation_endpoint: `${i}/revoke`,
    scopes_supported: [...SCOPES_SUPPORTED],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: [...SUPPORTED_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...SUPPORTED_AUTH_METHODS],
    // RFC 8414 §2: required once private_key_jwt is listed (client ID metadata documents only).
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // RFC 7636: S256 only, for every client (plain is a downgrade, CVE-2025-4144; docs/authorization.md).
    code_challenge_methods_supported: ['S256'],
    // RFC 9207 §3.
    authorization_response_iss_parameter_supported: true,
    // CIMD §5: with "none" above, Claude uses its metadata document instead of registering.
    client_id_metadata_document_supported: true,
  };
}

/**
 * RFC 9728 §2 protected resource metadata of one MCP server (`/mcp` unless `resource` names
 * another of the broker's servers).
 */
export function protectedResourceMetadata(config: Config, resource?: ProtectedResource): Record<string, unknown> {
  const other = resource && resource.url !== config.mcpUrl ? resource : undefined;
  return {
    resource: other?.url ?? config.mcpUrl,
    // RFC 9728 §2: authorization_servers[0] is the issuer, identical to the RFC 8414 `issuer`.
    authorization_servers: [config.issuer],
    scopes_supported: [...SCOPES_SUPPORTED],
    bearer_methods_supported: ['header'],
    resource_name: other ? `${other.title} (fjmcp-broker)` : 'Forge via MCP (fjmcp-broker)',
  };
}

/**
 * URL of the path-suffixed protected resource metadata (RFC 9728 §3.1) of `resource` (default:
 * the MCP URL `/mcp`), named in challenges.
 */
export function resourceMetadataUrl(config: Config, resource: string = config.mcpUrl): string {
  return `${config.issuer}/.well-known/oauth-protected-resource${new URL(resource).pathname}`;
}
