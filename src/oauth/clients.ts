/**
 * @module oauth/clients
 * The client registry: resolves a `client_id` to a {@link Client} — a dynamically registered one
 * from the store, or a client ID metadata document from the cache, the network or the shipped
 * vendor seeds — and authenticates clients at the token and revocation endpoints
 * (RFC 6749 §2.3.1).
 */
import { safeEqual, sha256 } from '../lib/crypto.js';
import type { Logger } from '../ops/log.js';
import type { ClientStore } from '../store/clients.js';
import { cimdUrlProblem, fetchDocument, isCimdClientId, validateDocument } from './cimd.js';
import { assertionSubject, CLIENT_ASSERTION_TYPE, createAssertionVerifier } from './client-assertion.js';
import type { ClientMetadata } from './client-metadata.js';
import { OAuthError } from './errors.js';
import { redirectHost } from './redirect-uri.js';
import { VENDOR_CIMD_SEEDS } from './seeds/vendor-cimd.js';

export interface Client {
  clientId: string;
  source: 'dcr' | 'cimd';
  metadata: ClientMetadata;
  /** SHA-256 of the client secret; null for public clients. */
  secretHash: string | null;
}

/** Credentials as presented at the token or revocation endpoint. */
export interface PresentedCredentials {
  /** From `Authorization: Basic` (RFC 6749 §2.3.1), already form-decoded. */
  basic?: { clientId: string; secret: string };
  /** `client_id` and `client_secret` body parameters. */
  clientId?: string;
  secret?: string;
  /** `client_assertion_type` and `client_assertion` body parameters (RFC 7521 §4.2), as sent. */
  assertion?: { type: string | undefined; jwt: string | undefined };
}

export interface ClientRegistry {
  /**
   * @throws {OAuthError} `invalid_client` (not redirectable) when unknown or its document is unusable.
   */
  resolve(clientId: string): Promise<Client>;
  /**
   * Authenticates the client of a token or revocation request.
   * @throws {OAuthError} `invalid_client` (401) or `invalid_request`.
   */
  authenticate(creds: PresentedCredentials): Promise<Client>;
  /** Whether the client's displayed name can be trusted: a shipped seed, or a CIMD URL on the redirect host. */
  isNameVerified(client: Client, redirectUri: string): boolean;
  /** Stores the vendor seeds (if absent) and refreshes them from the network in the background. */
  seed(): Promise<void>;
}

export function createClientRegistry(deps: {
  store: ClientStore;
  cimdFetch: typeof fetch;
  log: Logger;
  now: () => number;
  /** Accepted `aud` values of client assertions: the issuer identifier and the endpoint URLs. */
  assertionAudiences: readonly string[];
}): ClientRegistry {
  const { store, cimdFetch, log, now } = deps;
  const inflight = new Map<string, Promise<Client>>();
  const assertions = createAssertionVerifier({ fetch: cimdFetch, audiences: deps.assertionAudiences, log, now });

  const fromRow = async (clientId: string): Promise<Client | undefined> => {
    const row = await store.get(clientId);
    if (!row) return undefined;
    return { clientId, source: row.source, metadata: JSON.parse(row.metadata) as ClientMetadata, secretHash: row.secretHash };
  };

  const refresh = async (url: string): Promise<Client> => {
    const doc = await fetchDocument(url, cimdFetch, now());
    await store.upsertCimd(url, JSON.stringify(doc.metadata), now(), doc.freshUntil);
    return { clientId: url, source: 'cimd', metadata: doc.metadata, secretHash: null };
  };

  /** One fetch per URL at a time (single-flight). */
  const refreshOnce = (url: string): Promise<Client> => {
    let p = inflight.get(url);
    if (!p) {
      p = refresh(url).finally(() => inflight.delete(url));
      inflight.set(url, p);
    }
    return p;
  };

  const resolveCimd = async (url: string): Promise<Client> => {
    const problem = cimdUrlProblem(url);
    if (problem) throw new OAuthError('invalid_client', `client_id URL ${problem}`, { status: 400 });
    const row = await store.get(url);
    if (row && row.source === 'cimd' && (row.freshUntil ?? 0) > now()) return (await fromRow(url))!;
    try {
      return await refreshOnce(url);
    } catch (err) {
      // A shipped vendor document (or the last fetched copy of it) stands in when the vendor's
      // CDN refuses us; any other client's stale document does not: it may have been withdrawn.
      const seed = VENDOR_CIMD_SEEDS[url];
      if (seed) {
        log.warn({ clientId: url, err: (err as Error).message }, 'client metadata document fetch failed; using the shipped or last fetched copy');
        if (!row) await store.seedCimd(url, JSON.stringify(validateDocument(url, seed)), now());
        return (await fromRow(url))!;
      }
      throw err;
    }
  };

  const resolve = async (clientId: string): Promise<Client> => {
    if (!clientId || clientId.length > 2000) throw new OAuthError('invalid_client', 'client_id is missing or too long', { status: 400 });
    if (isCimdClientId(clientId)) return resolveCimd(clientId);
    const c = await fromRow(clientId);
    if (!c || c.source !== 'dcr') throw new OAuthError('invalid_client', 'unknown client_id; register the client first (RFC 7591)', { status: 400 });
    return c;
  };

  /**
   * `private_key_jwt` (RFC 7523 §2.2): the client is resolved through its document (refetched
   * when stale, so withdrawn keys stop working), the assertion verified, its `jti` claimed once.
   */
  const authenticateAssertion = async (creds: PresentedCredentials, assertion: NonNullable<PresentedCredentials['assertion']>): Promise<Client> => {
    if (creds.basic || creds.secret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method, not two (RFC 6749 §2.3)');
    }
    if (!assertion.type || !assertion.jwt) {
      throw new OAuthError('invalid_request', 'client_assertion_type and client_assertion go together (RFC 7521 §4.2)');
    }
    if (assertion.type !== CLIENT_ASSERTION_TYPE) {
      throw new OAuthError('invalid_client', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE} (RFC 7523 §2.2)`);
    }
    const clientId = creds.clientId ?? assertionSubject(assertion.jwt);
    let client: Client;
    try {
      client = await resolve(clientId);
    } catch (err) {
      if (err instanceof OAuthError) throw new OAuthError('invalid_client', err.description);
      throw err;
    }
    if (client.metadata.token_endpoint_auth_method !== 'private_key_jwt') {
      throw new OAuthError('invalid_client', 'this client does not authenticate with private_key_jwt');
    }
    const verified = await assertions.verify(client.clientId, client.metadata, assertion.jwt);
    if (!(await store.claimAssertion(client.clientId, verified.jti, verified.expiresAt))) {
      throw new OAuthError('invalid_client', 'client assertion rejected: its jti was already used (RFC 7523 §3 item 7)');
    }
    return client;
  };

  const authenticate = async (creds: PresentedCredentials): Promise<Client> => {
    if (creds.assertion) return authenticateAssertion(creds, creds.assertion);
    if (creds.basic && creds.clientId && creds.clientId !== creds.basic.clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body differs from the Basic credentials');
    }
    if (creds.basic && creds.secret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method, not two (RFC 6749 §2.3)');
    }
    const clientId = creds.basic?.clientId ?? creds.clientId;
    const secret = creds.basic?.secret ?? creds.secret;
    const challenge = creds.basic ? { 'www-authenticate': 'Basic realm="fjmcp-broker"' } : undefined;
    if (!clientId) throw new OAuthError('invalid_client', 'client authentication is missing (send client_id)', { headers: challenge });
    let client: Client;
    try {
      // A CIMD client already known here is authenticated from the stored copy: its codes and
      // tokens were issued after validating the document, and a public client has no secret, so a
      // refetch at every token request would only add a network dependency.
      client = (isCimdClientId(clientId) ? await fromRow(clientId) : undefined) ?? (await resolve(clientId));
    } catch (err) {
      if (err instanceof OAuthError) throw new OAuthError('invalid_client', err.description, { headers: challenge });
      throw err;
    }
    if (client.metadata.token_endpoint_auth_method === 'private_key_jwt') {
      throw new OAuthError('invalid_client', 'this client authenticates with private_key_jwt: send client_assertion (RFC 7523 §2.2)', { headers: challenge });
    }
    if (client.secretHash === null) {
      if (secret) throw new OAuthError('invalid_client', 'this client is public and has no secret', { headers: challenge });
      return client;
    }
    if (!secret || !safeEqual(sha256(secret), client.secretHash)) {
      throw new OAuthError('invalid_client', 'client authentication failed', { headers: challenge });
    }
    return client;
  };

  return {
    resolve,
    authenticate,
    isNameVerified(client, redirectUri) {
      if (client.source !== 'cimd') return false;
      if (client.clientId in VENDOR_CIMD_SEEDS) return true;
      try {
        return new URL(client.clientId).hostname === new URL(redirectUri).hostname && !!redirectHost(redirectUri);
      } catch {
        return false;
      }
    },
    async seed() {
      for (const [url, doc] of Object.entries(VENDOR_CIMD_SEEDS)) {
        await store.seedCimd(url, JSON.stringify(validateDocument(url, doc)), now());
      }
      await Promise.allSettled(
        Object.keys(VENDOR_CIMD_SEEDS).map((url) =>
          refreshOnce(url).then(
            () => log.info({ clientId: url }, 'refreshed shipped client metadata document from the network'),
            (err: unknown) => log.info({ clientId: url, err: (err as Error).message }, 'could not refresh shipped client metadata document; the shipped copy stays'),
          ),
        ),
      );
    },
  };
}
