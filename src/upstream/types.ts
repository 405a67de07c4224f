/**
 * @module upstream/types
 * The contract between the authorization server (src/oauth) and the forge side (src/upstream):
 * the forge's OAuth tokens, the person's identity, and the two ways a forge call fails.
 */
import type { ForgeTokenRow } from '../store/forge-tokens-store.js';

/** A forge token response, normalised. Gitea returns no `scope`. */
export interface ForgeTokenSet {
  accessToken: string;
  /** Absent only if the forge issued none. */
  refreshToken?: string;
  /** Expiry of the access token, ms since the epoch. */
  expiresAt: number;
}

/** Who the person is on the forge (`GET /api/v1/user`). */
export interface ForgeIdentity {
  /** Numeric forge user id as a decimal string: the person's stable key. */
  id: string;
  login: string;
  isAdmin: boolean;
}

/**
 * The forge refused (4xx on token or identity calls, or the allowlist no longer admits the
 * person): the person's forge grant is over and they must sign in again.
 */
export class ForgeGrantEndedError extends Error {
  override name = 'ForgeGrantEndedError';
}

/** The forge could not be reached or answered 5xx: transient, retry later. */
export class ForgeUnavailableError extends Error {
  override name = 'ForgeUnavailableError';
}

/**
 * The forge refused the broker itself, not the person: its client credentials (`invalid_client`,
 * an `unauthorized_client` about the client, HTTP 401 at the token endpoint; RFC 6749 §5.2) or
 * the shape of its request. An operator problem: every person's grant and forge tokens are kept,
 * the operator health detail names it, and the next request retries.
 */
export class ForgeClientRefusedError extends Error {
  override name = 'ForgeClientRefusedError';
  constructor(
    message: string,
    /** `credentials`: FJMCP_FORGE_CLIENT_ID/SECRET refused; `request`: any other refusal of the broker's request. */
    readonly kind: 'credentials' | 'request',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What the forge last said about the broker's own OAuth client credentials. */
export interface ForgeCredentialsStatus {
  /** False after the forge refused them, until it next accepts them. */
  ok: boolean;
  /** The refusal, naming the settings to check; never a secret. */
  detail?: string;
  /** When that was seen, ms since the epoch. */
  at?: number;
}

/** OAuth client of the forge (one confidential application). */
export interface ForgeClient {
  /** The forge's authorization endpoint URL for a confidential client with PKCE S256. */
  authorizationUrl(p: { state: string; codeChallenge: string }): URL;
  /**
   * Exchanges the forge's authorization code (RFC 6749 §4.1.3 with RFC 7636 verifier).
   * @throws {ForgeGrantEndedError} when the forge refuses the person's grant or code
   *   (`invalid_grant`, Gitea's `unauthorized_client` about a token or code);
   *   {@link ForgeClientRefusedError} when it refuses the broker's credentials or request;
   *   {@link ForgeUnavailableError} on 5xx/network.
   */
  exchangeCode(p: { code: string; codeVerifier: string }): Promise<ForgeTokenSet>;
  /** RFC 6749 §6. @throws as {@link exchangeCode}. */
  refresh(refreshToken: string): Promise<ForgeTokenSet>;
  /** `GET /api/v1/user`. @throws {ForgeGrantEndedError} on 4xx; {@link ForgeUnavailableError} on 5xx/network. */
  identify(accessToken: string): Promise<ForgeIdentity>;
  /**
   * The optional allowlist of logins and organisations (config.allow). True when both lists are
   * empty; false only on a definite "not a member" (404) of every listed organisation.
   * @throws {ForgeUnavailableError} when a membership answer is not definite (network, 5xx,
   *   an unexpected status) and no listed entry admitted the person: callers decide (sign-in
   *   fails closed; a refresh keeps the person signed in and checks again later).
   */
  isAllowed(identity: ForgeIdentity, accessToken: string): Promise<boolean>;
  /**
   * The person's forge organisations and teams (`org/team`) for the tool policy.
   * @throws {ForgeUnavailableError} when the forge cannot or will not tell.
   */
  memberships(accessToken: string): Promise<{ orgs: string[]; teams: string[] }>;
  /** Cheap liveness probe of the forge (`GET /api/healthz`), for `/healthz`. */
  health(): Promise<{ ok: boolean; detail?: string }>;
  /** The last verdict of the forge on the broker's client credentials (for `/healthz`). */
  credentials(): ForgeCredentialsStatus;
  /**
   * Verifies the broker's client credentials with a harmless request: a refresh-token grant with
   * a random refresh token, which the forge answers `invalid_client` when the credentials are
   * wrong and with a grant error (Gitea: `unauthorized_client` "unable to parse refresh token")
   * when they are right (Gitea 1.26 routers/web/auth/oauth2_provider.go handleRefreshToken).
   * @throws {ForgeUnavailableError} when the forge cannot be reached.
   */
  verifyCredentials(): Promise<ForgeCredentialsStatus>;
}

/** The people's forge tokens, sealed at rest, refreshed single-flight. */
export interface ForgeTokens {
  /** Stores the person's newest token set; the newest sign-in wins for all of their grants. */
  save(identity: ForgeIdentity, tokens: ForgeTokenSet): Promise<void>;
  /**
   * The person's current forge access token, refreshed (single-flight per person) when it
   * expires within the refresh margin; the allowlist is re-checked at every refresh.
   * @throws {ForgeGrantEndedError} after the forge refused (the stored tokens are deleted and
   *   the `onGrantEnded` listeners have run); {@link ForgeUnavailableError} on transient failure
   *   while the old token is already expired.
   * @param stored the person's row as the caller has just read it from the store (the bearer
   *   check reads it together with the access token, store/tokens.ts `findForBearer`); `null` when
   *   the store holds none; omitted: read here. A refresh always re-reads the row.
   */
  current(personId: string, stored?: ForgeTokenRow | null): Promise<{ accessToken: string; expiresAt: number }>;
  /** Deletes the person's forge tokens. */
  forget(personId: string): Promise<void>;
  /** Called with the person id whenever their forge grant ended (see {@link current}). */
  onGrantEnded(listener: (personId: string) => unknown): void;
}
