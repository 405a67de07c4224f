/**
 * @module oauth/tokens
 * The broker's opaque credentials and their lifetimes. Each is 256 random bits, base64url, with a
 * prefix naming its kind (so leaked ones are recognisable and redactable); the store keeps only
 * their SHA-256 hashes.
 */
import { randomToken } from '../lib/crypto.js';

export const ACCESS_TOKEN_PREFIX = 'mcpb_at_';
export const REFRESH_TOKEN_PREFIX = 'mcpb_rt_';
export const AUTHORIZATION_CODE_PREFIX = 'mcpb_ac_';
/** Personal access tokens (account page): a distinct prefix so secret scanners and people can tell them apart. */
export const PERSONAL_TOKEN_PREFIX = 'mcpb_pat_';

/** Authorization code lifetime, in seconds (RFC 6749 §4.1.2 recommends at most 10 minutes). */
export const AUTHORIZATION_CODE_TTL_S = 60;
/** A used code is remembered this long after expiry so a replay is recognised, in seconds. */
export const CODE_REPLAY_MEMORY_S = 3600;
/** A transaction waits this long for consent, and again for the forge round trip, in seconds. */
export const TRANSACTION_TTL_S = 600;

export const newAccessToken = () => randomToken(ACCESS_TOKEN_PREFIX);
export const newRefreshToken = () => randomToken(REFRESH_TOKEN_PREFIX);
export const newAuthorizationCode = () => randomToken(AUTHORIZATION_CODE_PREFIX);
export const newPersonalToken = () => randomToken(PERSONAL_TOKEN_PREFIX);
/** Internal ids (grants, transactions): 128 bits are enough, they are not secrets. */
export const newId = (prefix: string) => randomToken(prefix, 16);
