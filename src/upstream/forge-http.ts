/**
 * @module upstream/forge-http
 * The one way the forge side talks HTTP to the forge outside the OAuth endpoints: a deadline on
 * every call, no redirects followed, and every transport failure turned into
 * {@link ForgeUnavailableError} whose message names the route but never a token.
 */
import { ForgeUnavailableError } from './types.js';

/** Deadline of an ordinary forge call (token endpoint, `/api/v1/...`), in ms. */
export const FORGE_TIMEOUT_MS = 10_000;
/** Deadline of the liveness probe `GET /api/healthz`, in ms. */
export const FORGE_HEALTH_TIMEOUT_MS = 2_000;

export type FetchLike = typeof fetch;

/**
 * Resolves `path` (no leading slash, e.g. `api/v1/user`) against the forge base URL, keeping a
 * sub-path install (`https://example.org/gitea/`) intact.
 */
export function forgeUrl(base: URL, path: string): URL {
  const root = base.href.endsWith('/') ? base.href : `${base.href}/`;
  return new URL(path, root);
}

/** The forge base URL without a trailing slash, the form issuers are compared in. */
export function withoutTrailingSlash(u: URL | string): string {
  return (typeof u === 'string' ? u : u.href).replace(/\/+$/, '');
}

/**
 * `fetch` with a deadline and `redirect: 'manual'` (a 3xx is returned, never followed: Gitea
 * answers some membership checks with a redirect that must not count as "yes").
 * @throws {ForgeUnavailableError} on a network error or when `timeoutMs` passes.
 */
export async function forgeFetch(
  fetchImpl: FetchLike,
  url: URL,
  init: { method?: string; headers?: Record<string, string> },
  timeoutMs: number = FORGE_TIMEOUT_MS,
): Promise<Response> {
  try {
    return await fetchImpl(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw unavailable(`${init.method ?? 'GET'} ${url.pathname}`, err, timeoutMs);
  }
}

/** Wraps a transport failure (network, DNS, deadline) of `what` as {@link ForgeUnavailableError}. */
export function unavailable(what: string, err: unknown, timeoutMs: number = FORGE_TIMEOUT_MS): ForgeUnavailableError {
  const name = (err as { name?: string } | undefined)?.name;
  const reason =
    name === 'TimeoutError' || name === 'AbortError'
      ? `no answer within ${timeoutMs} ms`
      : `${(err as { cause?: { code?: string } })?.cause?.code ?? (err as Error)?.message ?? 'network error'}`;
  return new ForgeUnavailableError(`forge unreachable: ${what}: ${reason}`, { cause: err });
}

/** Reads a response body as text, at most `maxBytes`, swallowing read errors (for messages). */
export async function bodyText(res: Response, maxBytes = 512): Promise<string> {
  try {
    return (await res.text()).slice(0, maxBytes);
  } catch {
    return '';
  }
}
