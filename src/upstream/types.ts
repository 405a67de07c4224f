/**
 * @module upstream/types
 * The contract between the authorization server (src/oauth) and the forge side (src/upstream):
 * the forge's OAuth tokens, the person's identity, and the two ways a forge call fails.
 */

/** A forge token response, normalised. Gitea returns no `scope` (forge-facts.md §4). */
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

/** OAuth client of the forge (one confidential application). */
export interface ForgeClient {
  /** The forge's authorization endpoint URL for a confidential client with PKCE S256. */
  authorizationUrl(p: { state: string; codeChallenge: string }): URL;
  /**
   * Exchanges the forge's authorization code (RFC 6749 §4.1.3 with RFC 7636 verifier).
   * @throws {ForgeGrantEndedError} on a 4xx; {@link ForgeUnavailableError} on 5xx/network.
   */
  exchangeCode(p: { code: string; codeVerifier: string }): Promise<ForgeTokenSet>;
  /** RFC 6749 §6. @throws as {@link exchangeCode}. */
  refresh(refreshToken: string): Promise<ForgeTokenSet>;
  /** `GET /api/v1/user`. @throws as {@link exchangeCode}. */
  identify(accessToken: string): Promise<ForgeIdentity>;
  /**
   * The optional allowlist of logins and organisations (config.allow). True when both lists are
   * empty. Fails closed: an error while checking organisation membership counts as "no".
   */
  isAllowed(identity: ForgeIdentity, accessToken: string): Promise<boolean>;
  /**
   * The person's forge organisations and teams (`org/team`) for the tool policy.
   * @throws {ForgeUnavailableError} when the forge cannot or will not tell.
   */
  memberships(accessToken: string): Promise<{ orgs: string[]; teams: string[] }>;
  /** Cheap liveness probe of the forge (`GET /api/healthz`), for `/healthz`. */
  health(): Promise<{ ok: boolean; detail?: string }>;
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
   */
  current(personId: string): Promise<{ accessToken: string; expiresAt: number }>;
  /** Deletes the person's forge tokens. */
  forget(personId: string): Promise<void>;
  /** Called with the person id whenever their forge grant ended (see {@link current}). */
  onGrantEnded(listener: (personId: string) => unknown): void;
}
