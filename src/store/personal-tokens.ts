/**
 * @module store/personal-tokens
 * SQL for personal access tokens (migration 007). A token is a grant of its person to the
 * built-in client {@link PAT_CLIENT_ID} with one access token stored by SHA-256 hash in
 * `oauth_tokens`; its id is the grant id. Creating one writes the client (if missing), the grant,
 * the token and its name in one transaction. Revocation is the grant's (store/control.ts), so the
 * revocation queue closes its open MCP sessions like any other connection's. Times in ms.
 */
import type { Db } from './db.js';

/** The broker's built-in OAuth client that personal access tokens are issued to. */
export const PAT_CLIENT_ID = 'fjmcp-personal-access-token';
/** Its metadata: no redirect URI, so `/authorize` can never be used with it. */
export const PAT_CLIENT_METADATA = JSON.stringify({ client_name: 'Personal access token', redirect_uris: [], token_endpoint_auth_method: 'none' });

export interface NewPersonalToken {
  grantId: string;
  personId: string;
  login: string;
  name: string;
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  tokenHash: string;
  scope: string;
  /** The MCP URL it is bound to (RFC 8707 audience). */
  resource: string;
  createdAt: number;
  expiresAt: number;
}

export interface PersonalTokenView {
  id: string;
  personId: string;
  login: string;
  name: string;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface PersonalTokenStore {
  create(t: NewPersonalToken): Promise<void>;
  /** The person's tokens, newest first, revoked and expired ones included. */
  list(personId: string): Promise<PersonalTokenView[]>;
}

const VIEW = `SELECT p.grant_id AS id, p.person_id AS personId, g.login, p.name, p.created_at AS createdAt, p.expires_at AS expiresAt,
  g.last_used_at AS lastUsedAt, g.revoked_at AS revokedAt
  FROM personal_access_tokens p JOIN oauth_grants g ON g.id = p.grant_id`;

export function createPersonalTokenStore(db: Db): PersonalTokenStore {
  const client = db.prepare(`INSERT INTO oauth_clients (client_id, source, metadata, created_at) VALUES (?, 'dcr', ?, ?) ON CONFLICT (client_id) DO NOTHING`);
  const grant = db.prepare(
    `INSERT INTO oauth_grants (id, person_id, login, client_id, scope, resource, created_at)
     VALUES (@grantId, @personId, @login, '${PAT_CLIENT_ID}', @scope, @resource, @createdAt)`,
  );
  const token = db.prepare(
    `INSERT INTO oauth_tokens (hash, kind, grant_id, client_id, scope, resource, created_at, expires_at)
     VALUES (@tokenHash, 'access', @grantId, '${PAT_CLIENT_ID}', @scope, @resource, @createdAt, @expiresAt)`,
  );
  const pat = db.prepare('INSERT INTO personal_access_tokens (grant_id, person_id, name, created_at, expires_at) VALUES (@grantId, @personId, @name, @createdAt, @expiresAt)');
  const list = db.prepare(`${VIEW} WHERE p.person_id = ? ORDER BY p.created_at DESC`);
  const create = db.transaction((t: NewPersonalToken) => {
    client.run(PAT_CLIENT_ID, PAT_CLIENT_METADATA, t.createdAt);
    grant.run(t);
    token.run(t);
    pat.run(t);
  });
  return {
    create: async (t) => create(t),
    list: async (personId) => list.all(personId) as PersonalTokenView[],
  };
}
