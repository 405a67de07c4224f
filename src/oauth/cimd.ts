/**
 * @module oauth/cimd
 * Client ID metadata documents: a `client_id` that is an https URL names a JSON document
 * describing the client. Fetched through the SSRF guard (public addresses only, no redirects,
 * {@link CIMD_MAX_SIZE_BYTES}, {@link CIMD_TIMEOUT_MS}); the document's `client_id` must equal
 * the URL exactly; it is cached per `Cache-Control` (bounded by {@link CIMD_MAX_CACHE_S}).
 * @see https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/ §3, §4, §6
 */
import { CIMD_AUTH_METHODS, parseClientMetadata, type ClientMetadata } from './client-metadata.js';
import { OAuthError } from './errors.js';

/** Largest document accepted, in bytes. */
export const CIMD_MAX_SIZE_BYTES = 5 * 1024;
/** Whole fetch deadline, in ms. */
export const CIMD_TIMEOUT_MS = 10_000;
/** Longest a fetched document is cached, in seconds (7 days). */
export const CIMD_MAX_CACHE_S = 7 * 24 * 3600;
/** Cache lifetime when the response names none, in seconds. */
export const CIMD_DEFAULT_CACHE_S = 3600;

/** True when the client id is meant as a metadata document URL. */
export function isCimdClientId(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/** Why a URL client id is malformed (CIMD §3), or undefined. */
export function cimdUrlProblem(clientId: string): string | undefined {
  let u: URL;
  try {
    u = new URL(clientId);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:') return 'must use https';
  if (u.username || u.password || clientId.includes('#')) return 'must not contain userinfo or a fragment';
  if (u.pathname === '/' || u.pathname === '') return 'must contain a path';
  if (/\/\.\.?(\/|$)/.test(clientId.replace(/[?].*$/, ''))) return 'must not contain dot segments';
  if (u.href !== clientId) return 'must be in normalised form';
  return undefined;
}

export interface FetchedDocument {
  metadata: ClientMetadata;
  /** Cache the document until then, ms since the epoch. */
  freshUntil: number;
}

/** `max-age` from Cache-Control, 0 for no-store/no-cache, bounded to [0, {@link CIMD_MAX_CACHE_S}]. */
export function cacheSeconds(cacheControl: string | null): number {
  if (!cacheControl) return CIMD_DEFAULT_CACHE_S;
  const cc = cacheControl.toLowerCase();
  if (/\b(no-store|no-cache)\b/.test(cc)) return 0;
  const m = /\bmax-age\s*=\s*"?(\d+)/.exec(cc);
  return m ? Math.min(Number(m[1]), CIMD_MAX_CACHE_S) : CIMD_DEFAULT_CACHE_S;
}

/**
 * Validates a document (already parsed JSON) for the URL it came from.
 * @throws {OAuthError} `invalid_client` (not redirectable).
 */
export function validateDocument(url: string, doc: unknown): ClientMetadata {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid(url, 'is not a JSON object');
  const d = doc as Record<string, unknown>;
  // CIMD §4.1: the client_id inside MUST equal the document URL exactly.
  if (d.client_id !== url) throw invalid(url, 'names a different client_id');
  if ('client_secret' in d || 'client_secret_expires_at' in d) throw invalid(url, 'must not contain a client secret');
  let metadata: ClientMetadata;
  try {
    // CIMD §4.1 forbids shared secrets; a document may instead publish keys (private_key_jwt).
    metadata = parseClientMetadata(d, 'none', CIMD_AUTH_METHODS);
  } catch (err) {
    throw invalid(url, `is invalid (${err instanceof OAuthError ? err.description : 'unparseable'})`);
  }
  return metadata;
}

/**
 * Fetches and validates the document at `url` with `fetchFn` (the SSRF-guarded fetch in
 * production), refusing redirects, non-200 answers, bodies over {@link CIMD_MAX_SIZE_BYTES} and
 * anything slower than {@link CIMD_TIMEOUT_MS}.
 * @throws {OAuthError} `invalid_client` with a public description; the cause is logged only.
 */
export async function fetchDocument(url: string, fetchFn: typeof fetch, now: number): Promise<FetchedDocument> {
  const problem = cimdUrlProblem(url);
  if (problem) throw invalid(url, `URL ${problem}`);
  const signal = AbortSignal.timeout(CIMD_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetchFn(url, { redirect: 'manual', signal, headers: { accept: 'application/json' } });
  } catch (err) {
    throw invalid(url, 'could not be fetched', err);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw invalid(url, 'answered with a redirect (redirects are not followed)');
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw invalid(url, `answered HTTP ${res.status}`);
  }
  const text = await readCapped(res, CIMD_MAX_SIZE_BYTES, signal).catch((err: unknown) => {
    throw invalid(url, err instanceof TooLargeError ? `is larger than ${CIMD_MAX_SIZE_BYTES} bytes` : 'could not be read', err);
  });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalid(url, 'is not JSON', err);
  }
  const metadata = validateDocument(url, doc);
  return { metadata, freshUntil: now + cacheSeconds(res.headers.get('cache-control')) * 1000 };
}

/** Thrown by {@link readCapped} when the body exceeds its cap. */
export class TooLargeError extends Error {}

/**
 * Reads a response body as UTF-8, at most `cap` bytes, until `signal` aborts.
 * @throws {TooLargeError} over the cap (declared or streamed); Error when timed out or broken.
 */
export async function readCapped(res: Response, cap: number, signal: AbortSignal): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > cap) {
    await res.body?.cancel();
    throw new TooLargeError();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    if (signal.aborted) {
      await reader.cancel();
      throw new Error('timed out');
    }
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel();
      throw new TooLargeError();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function invalid(url: string, what: string, cause?: unknown): OAuthError {
  return new OAuthError('invalid_client', `the client metadata document ${url} ${what}`, { cause, status: 400 });
}
