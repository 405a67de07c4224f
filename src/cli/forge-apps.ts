/**
 * @module cli/forge-apps
 * Registers (and, to undo a half-finished `init`, deletes) the broker's confidential OAuth2
 * application through the forge's user API: `POST /api/v1/user/applications/oauth2`,
 * `DELETE /api/v1/user/applications/oauth2/{id}` (Gitea ≥ 1.12 and Forgejo, modules/structs/user_app.go).
 * The token authenticates as `Authorization: token …` and needs the `write:user` scope.
 */

/** The created application; `clientSecret` is returned in plaintext by the forge only here. */
export interface ForgeOAuthApp {
  id: number;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

/** A refusal or failure with a message fit for an operator (never contains the token). */
export class ForgeAppError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'ForgeAppError';
  }
}

const TIMEOUT_MS = 15_000;

/** The forge's `{"message": …}` error text, if any, cut to one short line. */
async function forgeMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  let msg = text;
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') msg = body.message;
  } catch {
    /* not JSON: keep the text */
  }
  msg = msg.replace(/\s+/g, ' ').trim();
  return msg.length > 200 ? `${msg.slice(0, 200)}…` : msg;
}

function networkError(url: string, err: unknown): ForgeAppError {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new ForgeAppError(`the forge at ${url} did not answer within ${TIMEOUT_MS / 1000} s`);
  const why = e.cause?.code ?? e.cause?.message ?? String(err);
  return new ForgeAppError(`cannot reach the forge at ${url} (${why}); check --forge-url and the network`);
}

/**
 * Creates a confidential OAuth2 application.
 * @param forgeUrl forge base URL without a trailing slash.
 * @throws {ForgeAppError} 401 (token invalid), 403 (token lacks write:user or the account may not
 *   create applications), 404 (not a Gitea/Forgejo API at that URL), other statuses with the
 *   forge's message, network errors and timeouts (15 s).
 */
export async function createForgeOAuthApp(
  forgeUrl: string,
  token: string,
  app: { name: string; redirectUris: string[] },
): Promise<ForgeOAuthApp> {
  const url = `${forgeUrl}/api/v1/user/applications/oauth2`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `token ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ name: app.name, redirect_uris: app.redirectUris, confidential_client: true }),
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw networkError(forgeUrl, err);
  }
  if (res.status === 201) {
    const body = (await res.json()) as { id?: number; client_id?: string; client_secret?: string; redirect_uris?: string[] };
    if (typeof body.client_id !== 'string' || typeof body.client_secret !== 'string' || !body.client_secret) {
      throw new ForgeAppError('the forge created the application but returned no client_id/client_secret', 201);
    }
    return { id: Number(body.id), clientId: body.client_id, clientSecret: body.client_secret, redirectUris: body.redirect_uris ?? [] };
  }
  const msg = await forgeMessage(res);
  const detail = msg ? ` (forge says: ${msg})` : '';
  switch (res.status) {
    case 401:
      throw new ForgeAppError(`the forge rejected the token (401)${detail}: is it valid, unexpired, and for this forge?`, 401);
    case 403:
      throw new ForgeAppError(
        `the token may not create OAuth2 applications (403)${detail}: create an access token with the "write:user" scope (Settings → Applications → User: Read and Write)`,
        403,
      );
    case 404:
      throw new ForgeAppError(
        `no OAuth2 application API at ${url} (404): --forge-url must be the forge's base URL (without /api/v1), and the forge's [oauth2] ENABLED must be true`,
        404,
      );
    default:
      if (res.status >= 300 && res.status < 400) {
        throw new ForgeAppError(`the forge redirected (${res.status} to ${res.headers.get('location') ?? '?'}): use the forge's canonical base URL for --forge-url`, res.status);
      }
      throw new ForgeAppError(`the forge refused to create the application (${res.status})${detail}`, res.status);
  }
}

/** Deletes an application created by {@link createForgeOAuthApp}; resolves false if that failed. */
export async function deleteForgeOAuthApp(forgeUrl: string, token: string, id: number): Promise<boolean> {
  try {
    const res = await fetch(`${forgeUrl}/api/v1/user/applications/oauth2/${id}`, {
      method: 'DELETE',
      headers: { authorization: `token ${token}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    return res.status === 204;
  } catch {
    return false;
  }
}
