/**
 * @module lib/principal
 * The contract between the bearer check (src/oauth) and the MCP relay (src/mcp): who is calling
 * `/mcp` and with which forge token their child must run. Produced only by a successful bearer
 * check of an access token the broker issued for its own resource (RFC 8707 audience).
 */
export interface Principal {
  /** Stable forge user id (decimal string): one child per person is keyed by it. */
  personId: string;
  /** Forge login name, for logs and the audit trail. */
  login: string;
  /** The broker-side OAuth client the access token was issued to. */
  clientId: string;
  /** The broker-side grant (person × client) the token belongs to. */
  grantId: string;
  /** Scopes granted to the client by the broker. */
  scopes: string[];
  /**
   * The person's current forge access token, already refreshed if it was near expiry. Only the
   * relay's child spawner may read it; it is never logged.
   */
  forgeAccessToken: string;
  /** When that forge token expires, ms since the epoch. */
  forgeTokenExpiresAt: number;
  /**
   * The MCP server the token is for (its audience): `default` for `/mcp`, else the name of the
   * server at `/mcp/<name>`. Absent means `default`.
   */
  server?: string;
}
