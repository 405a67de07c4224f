/**
 * @module oauth/client-assertion
 * `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, profiled by RFC 7521 §4.2) for
 * clients whose client ID metadata document declares it: the client signs a short-lived JWT with
 * its private key; the broker verifies it against the document's `jwks` or the JWK Set at its
 * `jwks_uri` (fetched through the same SSRF-guarded fetch as the documents, cached per
 * Cache-Control, refetched once on an unknown `kid` for key rotation). Replay protection (one
 * use per `jti`) is the caller's, through the store, so it holds across replicas.
 */
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../ops/log.js';
import { cacheSeconds, readCapped, TooLargeError } from './cimd.js';
import { CLIENT_ASSERTION_ALGS, MAX_CLIENT_JWKS_KEYS, publicJwkProblem, type ClientMetadata } from './client-metadata.js';
import { OAuthError } from './errors.js';

/** `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2). */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Longest `client_assertion` accepted, in characters. */
export const MAX_ASSERTION_LENGTH = 8 * 1024;
/**
 * Latest `exp` accepted, in seconds from now. RFC 7523 §3 sets no bound; one is set so that a
 * leaked assertion is short-lived and the replay memory (a row per `jti` until `exp`) stays small.
 */
export const MAX_ASSERTION_LIFETIME_S = 3600;
/** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (RFC 7523 §3 items 4–6 allow "some small leeway"). */
export const ASSERTION_CLOCK_SKEW_S = 60;
/** Largest JWK Set document accepted from a `jwks_uri`, in bytes. */
export const JWKS_MAX_SIZE_BYTES = 64 * 1024;
/** Whole deadline of a JWK Set fetch, in ms. */
export const JWKS_TIMEOUT_MS = 10_000;
/** An unknown `kid` refetches a `jwks_uri` at most this often, in ms, so forged assertions cannot drive fetches. */
export const JWKS_REFETCH_MIN_MS = 60_000;

/** What a verified assertion leaves for replay protection. */
export interface VerifiedAssertion {
  jti: string;
  /** The assertion's `exp`, in ms since the epoch. */
  expiresAt: number;
}

export interface AssertionVerifier {
  /**
   * Verifies `jwt` as a client assertion of `client` (its metadata declares `private_key_jwt`):
   * signature by one of its keys with an algorithm of {@link CLIENT_ASSERTION_ALGS} (and its
   * declared `token_endpoint_auth_signing_alg`, if any); `iss` = `sub` = client id; `aud` is the
   * issuer identifier or the endpoint's URL; `exp` present and within
   * {@link MAX_ASSERTION_LIFETIME_S}; `nbf`/`iat` not in the future; `jti` present.
   * @throws {OAuthError} `invalid_client`, with a description that names the failed check.
   */
  verify(clientId: string, metadata: ClientMetadata, jwt: string): Promise<VerifiedAssertion>;
}

/**
 * The `sub` (the client id, RFC 7523 §3 item 2) of an assertion, unverified: only to find which
 * client's keys verify it, when the request carries no `client_id` (RFC 7521 §4.2 makes it optional).
 * @throws {OAuthError} `invalid_client` when it is not a JWT with a string `sub`.
 */
export function assertionSubject(jwt: string): string {
  try {
    const sub = decodeJwt(jwt).sub;
    if (typeof sub === 'string' && sub) return sub;
  } catch {
    // falls through to the refusal
  }
  throw new OAuthError('invalid_client', 'client_assertion is not a JWT with a sub claim (RFC 7523 §3)');
}

interface CachedSet {
  keys: JWTVerifyGetKey;
  freshUntil: number;
  fetchedAt: number;
}

export function createAssertionVerifier(deps: {
  /** The SSRF-guarded fetch (the one used for metadata documents). */
  fetch: typeof fetch;
  /** Accepted `aud` values: the issuer identifier and the token and revocation endpoint URLs. */
  audiences: readonly string[];
  log: Logger;
  /** ms since the epoch. */
  now: () => number;
}): AssertionVerifier {
  const { log, now } = deps;
  const remote = new Map<string, CachedSet>();
  const inflight = new Map<string, Promise<CachedSet>>();

  const fetchSet = async (uri: string): Promise<CachedSet> => {
    const signal = AbortSignal.timeout(JWKS_TIMEOUT_MS);
    const fail = (what: string, cause?: unknown) => new OAuthError('invalid_client', `the client's jwks_uri ${uri} ${what}`, { cause });
    let res: Response;
    try {
      res = await deps.fetch(uri, { redirect: 'manual', signal, headers: { accept: 'application/jwk-set+json, application/json' } });
    } catch (err) {
      throw fail('could not be fetched', err);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw fail(res.status >= 300 && res.status < 400 ? 'answered with a redirect (redirects are not followed)' : `answered HTTP ${res.status}`);
    }
    const text = await readCapped(res, JWKS_MAX_SIZE_BYTES, signal).catch((err: unknown) => {
      throw fail(err instanceof TooLargeError ? `is larger than ${JWKS_MAX_SIZE_BYTES} bytes` : 'could not be read', err);
    });
    let set: JSONWebKeySet;
    try {
      set = JSON.parse(text) as JSONWebKeySet;
    } catch (err) {
      throw fail('is not JSON', err);
    }
    const problem = jwkSetProblem(set);
    if (problem) throw fail(problem);
    const t = now();
    return { keys: createLocalJWKSet(set), freshUntil: t + cacheSeconds(res.headers.get('cache-control')) * 1000, fetchedAt: t };
  };

  /** One fetch per URI at a time; a fresh cached set unless `refetch` (and not fetched within {@link JWKS_REFETCH_MIN_MS}). */
  const remoteSet = async (uri: string, refetch: boolean): Promise<CachedSet> => {
    const cached = remote.get(uri);
    const t = now();
    if (cached && (refetch ? t - cached.fetchedAt < JWKS_REFETCH_MIN_MS : cached.freshUntil > t)) return cached;
    let p = inflight.get(uri);
    if (!p) {
      p = fetchSet(uri)
        .then((set) => {
          remote.set(uri, set);
          return set;
        })
        .finally(() => inflight.delete(uri));
      inflight.set(uri, p);
    }
    return p;
  };

  return {
    async verify(clientId, metadata, jwt) {
      if (jwt.length > MAX_ASSERTION_LENGTH) throw new OAuthError('invalid_client', `client_assertion is longer than ${MAX_ASSERTION_LENGTH} characters`);
      const declared = metadata.token_endpoint_auth_signing_alg;
      const options = {
        algorithms: declared ? [declared] : [...CLIENT_ASSERTION_ALGS],
        issuer: clientId,
        subject: clientId,
        audience: [...deps.audiences],
        clockTolerance: ASSERTION_CLOCK_SKEW_S,
        currentDate: new Date(now()),
        requiredClaims: ['exp', 'jti'],
      };
      const attempt = async (keys: JWTVerifyGetKey) => (await jwtVerify(jwt, keys, options)).payload;
      let payload;
      try {
        if (metadata.jwks) {
          payload = await attempt(createLocalJWKSet(metadata.jwks as JSONWebKeySet));
        } else {
          const uri = metadata.jwks_uri!;
          try {
            payload = await attempt((await remoteSet(uri, false)).keys);
          } catch (err) {
            // RFC 7517 §4.5: a kid the cached set lacks may be a rotated key; look once more.
            if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
            log.info({ clientId }, 'client assertion names a key not in the cached JWK Set; refetching jwks_uri');
            payload = await attempt((await remoteSet(uri, true)).keys);
          }
        }
      } catch (err) {
        throw err instanceof OAuthError ? err : new OAuthError('invalid_client', `client assertion rejected: ${describe(err)}`, { cause: err });
      }
      const exp = payload.exp!;
      if (exp > now() / 1000 + MAX_ASSERTION_LIFETIME_S + ASSERTION_CLOCK_SKEW_S) {
        throw new OAuthError('invalid_client', `client assertion rejected: exp is more than ${MAX_ASSERTION_LIFETIME_S} s ahead`);
      }
      if (payload.iat !== undefined && payload.iat > now() / 1000 + ASSERTION_CLOCK_SKEW_S) {
        throw new OAuthError('invalid_client', 'client assertion rejected: iat is in the future');
      }
      if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 200) {
        throw new OAuthError('invalid_client', 'client assertion rejected: jti must be a string of at most 200 characters');
      }
      return { jti: payload.jti, expiresAt: exp * 1000 };
    },
  };
}

/** Why a fetched JWK Set is unusable, or undefined. */
function jwkSetProblem(set: unknown): string | undefined {
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'is not a JWK Set (RFC 7517 §5)';
  if (keys.length > MAX_CLIENT_JWKS_KEYS) return `holds more than ${MAX_CLIENT_JWKS_KEYS} keys`;
  for (const key of keys) {
    const problem = publicJwkProblem(key);
    if (problem) return problem;
  }
  return undefined;
}

/** A public description of a jose verification error: which check failed, never key material. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'it has expired (exp)';
  if (err instanceof errors.JWTClaimValidationFailed) return `the ${err.claim} claim ${err.reason === 'missing' ? 'is missing' : 'is not acceptable'} (RFC 7523 §3)`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'its signing algorithm is not allowed for this client';
  if (err instanceof errors.JWKSNoMatchingKey) return "no key of the client's JWK Set matches it";
  if (err instanceof errors.JWKSMultipleMatchingKeys) return "several keys of the client's JWK Set match it; name one with kid";
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (err instanceof errors.JOSEError) return 'it is not a valid signed JWT';
  return 'it could not be verified';
}
