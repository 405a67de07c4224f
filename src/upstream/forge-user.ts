/**
 * @module upstream/forge-user
 * Who the person is on the forge and whether the broker's allowlist admits them, using the
 * person's own OAuth access token on the forge API (Gitea 1.26 / Forgejo `/api/v1`), plus the
 * forge's liveness probe. Verified against Gitea 1.26.0 (test/flows/forge-signin.test.ts).
 */
import { z } from 'zod';
import type { Logger } from '../ops/log.js';
import { bodyText, FORGE_HEALTH_TIMEOUT_MS, forgeFetch, forgeUrl, type FetchLike } from './forge-http.js';
import { ForgeGrantEndedError, ForgeUnavailableError, type ForgeIdentity } from './types.js';

/** The part of Gitea's `GET /api/v1/user` answer (modules/structs/user.go) the broker uses. */
const ForgeUserBody = z.object({ id: z.number().int().positive(), login: z.string().min(1), is_admin: z.boolean().optional() });

export interface ForgeUserDeps {
  forgeBase: URL;
  allow: { users: readonly string[]; orgs: readonly string[] };
  log: Logger;
  fetch: FetchLike;
  /** Deadline of each call, ms. */
  timeoutMs: number;
}

const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}`, accept: 'application/json' });

/**
 * `GET /api/v1/user` with the person's token. With restricted Gitea scopes (>= 1.23) the token
 * needs `read:user`, else 403 (hence upstream/forge-client always requests it).
 * @throws {ForgeGrantEndedError} on 4xx (401: expired, revoked or unknown token; 403: scope).
 * @throws {ForgeUnavailableError} on 5xx, a network error, a timeout or a malformed body.
 */
export async function identify(deps: ForgeUserDeps, accessToken: string): Promise<ForgeIdentity> {
  const url = forgeUrl(deps.forgeBase, 'api/v1/user');
  const res = await forgeFetch(deps.fetch, url, { headers: bearer(accessToken) }, deps.timeoutMs);
  if (res.status >= 400 && res.status < 500) {
    const detail = await bodyText(res, 200);
    throw new ForgeGrantEndedError(`forge refused the access token on GET /api/v1/user (HTTP ${res.status}): ${detail}`);
  }
  if (res.status !== 200) {
    await bodyText(res, 0);
    throw new ForgeUnavailableError(`forge answered HTTP ${res.status} on GET /api/v1/user`);
  }
  let parsed: z.infer<typeof ForgeUserBody>;
  try {
    parsed = ForgeUserBody.parse(await res.json());
  } catch (err) {
    throw new ForgeUnavailableError('forge sent a malformed GET /api/v1/user body', { cause: err });
  }
  return { id: String(parsed.id), login: parsed.login, isAdmin: parsed.is_admin === true };
}

/**
 * The allowlist (config.allow): both lists empty admits everyone; a login in `users`
 * (case-insensitive, as forge logins are) admits; otherwise membership of any listed
 * organisation, asked as `GET /api/v1/orgs/{org}/members/{login}` with the person's own token.
 * Gitea 1.26 (routers/api/v1/org/member.go `IsMember`) answers 204 for a member and 404 for a
 * person asking about themselves who is not one, public or private org alike; its 303 to
 * `public_members` (for asking about others) is never followed and counts as "no". Works for
 * a non-admin member with their OAuth token; needs `read:organization` with restricted scopes.
 * Only 204 is "yes" and only 404 (or the never-followed redirect) is a definite "no"; any other
 * answer (network error, deadline, 5xx, 401/403) is not an answer.
 * @returns true when admitted; false when every listed organisation definitely said "not a member".
 * @throws {ForgeUnavailableError} when no entry admitted and some organisation gave no definite answer.
 */
export async function isAllowed(deps: ForgeUserDeps, identity: ForgeIdentity, accessToken: string): Promise<boolean> {
  const { users, orgs } = deps.allow;
  if (users.length === 0 && orgs.length === 0) return true;
  const login = identity.login.toLowerCase();
  if (users.some((u) => u.toLowerCase() === login)) return true;
  let undecided: string | undefined;
  for (const org of orgs) {
    const url = forgeUrl(deps.forgeBase, `api/v1/orgs/${encodeURIComponent(org)}/members/${encodeURIComponent(identity.login)}`);
    try {
      const res = await forgeFetch(deps.fetch, url, { headers: bearer(accessToken) }, deps.timeoutMs);
      const detail = await bodyText(res, 200);
      if (res.status === 204) return true;
      if (res.status !== 404 && !(res.status >= 300 && res.status < 400)) {
        deps.log.warn({ org, login: identity.login, status: res.status, detail }, 'forge organisation membership check gave no answer');
        undecided ??= `organisation ${org} membership check answered HTTP ${res.status}`;
      }
    } catch (err) {
      deps.log.warn({ org, login: identity.login, err: (err as Error).message }, 'forge organisation membership check gave no answer');
      undecided ??= `organisation ${org} membership check failed: ${(err as Error).message}`;
    }
  }
  if (undecided) throw new ForgeUnavailableError(`the allowlist could not be checked: ${undecided}`);
  return false;
}

/** `GET /api/healthz` within {@link FORGE_HEALTH_TIMEOUT_MS}; ok on 200. Never throws. */
export async function health(deps: Pick<ForgeUserDeps, 'forgeBase' | 'fetch' | 'timeoutMs'>): Promise<{ ok: boolean; detail?: string }> {
  try {
    const res = await forgeFetch(deps.fetch, forgeUrl(deps.forgeBase, 'api/healthz'), {}, Math.min(FORGE_HEALTH_TIMEOUT_MS, deps.timeoutMs));
    await bodyText(res, 0);
    return res.status === 200 ? { ok: true } : { ok: false, detail: `forge /api/healthz answered HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

/** The part of Gitea's team objects (modules/structs/org_team.go) used to name org and team. */
const ForgeTeams = z.array(
  z.object({ name: z.string(), organization: z.object({ username: z.string().optional(), name: z.string().optional() }).nullish() }),
);

/** Teams per page asked for; Gitea caps `limit` at `[api] MAX_RESPONSE_ITEMS` (default 50). */
const TEAMS_PAGE = 50;
/** Most pages read (a person in more than 1,000 teams is cut off; the policy then sees fewer). */
const TEAMS_MAX_PAGES = 20;

/**
 * The person's organisations and teams (`org/team`), from `GET /api/v1/user/teams` with their own
 * token (Gitea 1.26 routers/api/v1/user/... `ListUserTeams`): forge organisation membership is
 * team membership, so the teams name the organisations too. Needs `read:organization` with
 * restricted scopes.
 * @throws {ForgeUnavailableError} on any refusal or failure: the caller then treats the
 *   memberships as unknown (the tool policy fails closed).
 */
export async function memberships(deps: Pick<ForgeUserDeps, 'forgeBase' | 'fetch' | 'timeoutMs'>, accessToken: string): Promise<{ orgs: string[]; teams: string[] }> {
  const orgs = new Set<string>();
  const teams = new Set<string>();
  for (let page = 1; page <= TEAMS_MAX_PAGES; page++) {
    const url = forgeUrl(deps.forgeBase, `api/v1/user/teams?limit=${TEAMS_PAGE}&page=${page}`);
    const res = await forgeFetch(deps.fetch, url, { headers: bearer(accessToken) }, deps.timeoutMs);
    if (res.status !== 200) {
      const detail = await bodyText(res, 200);
      throw new ForgeUnavailableError(`forge answered HTTP ${res.status} on GET /api/v1/user/teams: ${detail}`);
    }
    let list: z.infer<typeof ForgeTeams>;
    try {
      list = ForgeTeams.parse(await res.json());
    } catch (err) {
      throw new ForgeUnavailableError('forge sent a malformed GET /api/v1/user/teams body', { cause: err });
    }
    for (const t of list) {
      const org = t.organization?.username || t.organization?.name;
      if (!org) continue;
      orgs.add(org);
      teams.add(`${org}/${t.name}`);
    }
    if (list.length < TEAMS_PAGE) break;
  }
  return { orgs: [...orgs], teams: [...teams] };
}
