/**
 * @module oauth/pkce
 * PKCE (RFC 7636), S256 only, for every client: `plain` or a missing method is refused (a missing
 * method means plain, RFC 7636 §4.3), and a wrong verifier burns the code.
 */
import { pkceS256, safeEqual } from '../lib/crypto.js';
import { OAuthError } from './errors.js';

const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** RFC 7636 §4.3 at the authorization endpoint. @throws {OAuthError} invalid_request. */
export function assertPkceS256Challenge(challenge: string | undefined, method: string | undefined): string {
  if (!challenge) throw new OAuthError('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
  if (method !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256 (plain is not accepted)');
  if (!CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge must be 43 base64url characters (S256)');
  return challenge;
}

/** RFC 7636 §4.6 at the token endpoint. @throws {OAuthError} invalid_request or invalid_grant. */
export function assertPkceVerifier(verifier: string | undefined, challenge: string): void {
  if (!verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
  if (!VERIFIER.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier is malformed (RFC 7636 §4.1)');
  if (!safeEqual(pkceS256(verifier), challenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
}
