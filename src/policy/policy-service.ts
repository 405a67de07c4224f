/**
 * @module policy/policy-service
 * Owns the policy in force: loads `FJMCP_POLICY_FILE` at start (a bad file stops the start),
 * reloads it on demand (SIGHUP: a bad file keeps the last good policy and says so in the log and
 * the operator health detail), tells listeners when it changed, and resolves a person's effective
 * policy with their forge organisations and teams (asked with their own token, cached
 * {@link MEMBERSHIP_TTL_MS}; unknown when the forge will not tell, which fails closed).
 */
import type { Logger } from '../ops/log.js';
import { TOOL_CATALOGS } from './catalogs.js';
import { Policy, type PersonPolicy } from './policy.js';
import { DEFAULT_SERVER, PolicyFileError, readPolicyFile, type PolicyFile } from './policy-file.js';

/** How long a person's forge organisations and teams are reused, ms. */
export const MEMBERSHIP_TTL_MS = 5 * 60_000;
/** How long after a failed membership lookup the forge is asked again, ms. */
export const MEMBERSHIP_RETRY_MS = 30_000;

export const NO_POLICY_STATEMENT =
  'no tool policy (FJMCP_POLICY_FILE is not set): every person\'s assistant may call every tool the MCP server offers, with the person\'s full forge access';

/** What the operator health detail says about the policy. */
export interface PolicyStatus {
  file: string | null;
  /** Rules in force. */
  rules: number;
  /** When the policy in force was loaded, ISO 8601. */
  loadedAt: string | null;
  /** The last reload that failed after the policy in force was loaded, with every problem. */
  lastReloadError: { at: string; problems: string[] } | null;
}

export interface PolicyServiceDeps {
  file: string | undefined;
  /** Child preset name: selects the reviewed tool catalog (src/policy/catalogs.ts). */
  preset: string;
  log: Logger;
  /** The person's forge organisations and teams; throws when the forge cannot tell. */
  memberships(accessToken: string): Promise<{ orgs: string[]; teams: string[] }>;
  clock?: () => number;
}

/** Who is asking, as the relay knows them. The token is only passed on to the forge lookup. */
export interface PolicySubject {
  personId: string;
  login: string;
  forgeAccessToken: string;
}

/**
 * One compiled policy per server: the rules that apply there (no `servers` key, or naming it),
 * with the tool catalog of the server's preset. The servers are those of the start: a reload
 * changes rules, never which servers run.
 */
function compile(file: PolicyFile, presets: ReadonlyMap<string, string>): Map<string, Policy> {
  const out = new Map<string, Policy>();
  for (const [server, preset] of presets) {
    out.set(server, new Policy({ ...file, rules: file.rules.filter((r) => !r.servers || r.servers.includes(server)) }, TOOL_CATALOGS[preset] ?? {}));
  }
  return out;
}

interface Cached {
  policy: Policy;
  login: string;
  memberships: { orgs: string[]; teams: string[] } | undefined;
  at: number;
  person: PersonPolicy;
}

export class PolicyService {
  #policy: Policy;
  /** Per server name ({@link DEFAULT_SERVER} included); empty without a policy file. */
  #policies = new Map<string, Policy>();
  /** The file in force (undefined without one): its rules, and its servers as read at start. */
  #file: PolicyFile | undefined;
  /** Server name → child preset, fixed at start. */
  readonly #presets: Map<string, string>;
  readonly #startServers: PolicyFile['servers'];
  #loadedAt: number | null;
  #lastError: PolicyStatus['lastReloadError'] = null;
  readonly #listeners = new Set<(policy: Policy) => void>();
  readonly #people = new Map<string, Cached>();
  readonly #lookups = new Map<string, Promise<Cached>>();
  readonly #now: () => number;

  /** @throws {PolicyFileError} when the file is set and invalid (the broker must not start). */
  constructor(private readonly deps: PolicyServiceDeps) {
    this.#now = deps.clock ?? Date.now;
    this.#file = deps.file ? readPolicyFile(deps.file) : undefined;
    this.#presets = new Map([[DEFAULT_SERVER, deps.preset], ...Object.entries(this.#file?.servers ?? {}).map(([n, s]) => [n, s.preset ?? 'custom'] as [string, string])]);
    this.#startServers = this.#file?.servers;
    this.#policies = this.#file ? compile(this.#file, this.#presets) : new Map();
    this.#policy = this.#policies.get(DEFAULT_SERVER) ?? Policy.OPEN;
    this.#loadedAt = deps.file ? this.#now() : null;
    if (deps.file) deps.log.info({ file: deps.file, rules: this.#file!.rules.length, servers: [...this.#presets.keys()], catalog: deps.preset in TOOL_CATALOGS ? deps.preset : null }, 'tool policy loaded');
    else deps.log.warn(NO_POLICY_STATEMENT);
  }

  /** The policy of the server at `/mcp`. */
  get current(): Policy {
    return this.#policy;
  }

  /** The `servers` section of the file as read at start (a reload does not change the servers). */
  get servers(): PolicyFile['servers'] {
    return this.#startServers;
  }

  /** The policy in force at the server `name` (docs/policy.md §Servers). */
  policyOf(server: string): Policy {
    return this.#policies.get(server) ?? this.#policy;
  }

  /**
   * Reads the file again. On success the new policy is in force and listeners run; on failure the
   * last good policy stays, and the problems are logged and kept for the health detail.
   * @returns true when the new policy is in force.
   */
  reload(): boolean {
    const { file, log } = this.deps;
    if (!file) {
      log.info('reload requested; no FJMCP_POLICY_FILE is set, nothing to reload');
      return true;
    }
    let next: Policy;
    let nextFile: PolicyFile;
    let policies: Map<string, Policy>;
    try {
      nextFile = readPolicyFile(file);
      policies = compile(nextFile, this.#presets);
      next = policies.get(DEFAULT_SERVER)!;
    } catch (err) {
      const problems = err instanceof PolicyFileError ? err.problems : [(err as Error).message];
      this.#lastError = { at: new Date(this.#now()).toISOString(), problems };
      log.error({ file, problems }, 'tool policy reload failed; the previous policy stays in force');
      return false;
    }
    if (JSON.stringify(nextFile.servers ?? {}) !== JSON.stringify(this.#startServers ?? {})) {
      log.warn({ file }, 'the servers section changed: the rules are reloaded, the servers change only at the next start');
    }
    this.#file = nextFile;
    this.#policies = policies;
    this.#policy = next;
    this.#loadedAt = this.#now();
    this.#lastError = null;
    this.#people.clear();
    log.info({ file, rules: nextFile.rules.length }, 'tool policy reloaded');
    for (const l of this.#listeners) l(next);
    return true;
  }

  /** Runs `listener` after every successful reload. */
  onChange(listener: (policy: Policy) => void): void {
    this.#listeners.add(listener);
  }

  status(): PolicyStatus {
    return {
      file: this.deps.file ?? null,
      rules: this.#file?.rules.length ?? 0,
      loadedAt: this.#loadedAt === null ? null : new Date(this.#loadedAt).toISOString(),
      lastReloadError: this.#lastError,
    };
  }

  /**
   * The person's effective policy. Synchronous when cached (the per-call path); otherwise asks
   * the forge for memberships when some rule selects by organisation or team. Never throws.
   */
  forPerson(subject: PolicySubject, server: string = DEFAULT_SERVER): PersonPolicy | Promise<PersonPolicy> {
    const policy = this.policyOf(server);
    const key = `${server}\0${subject.personId}`;
    const hit = this.#people.get(key);
    if (hit && hit.policy === policy && hit.login === subject.login && (!policy.needsMemberships || this.#now() - hit.at < (hit.memberships ? MEMBERSHIP_TTL_MS : MEMBERSHIP_RETRY_MS))) {
      return hit.person;
    }
    if (!policy.needsMemberships) return this.#remember(key, subject, policy, undefined).person;
    let lookup = this.#lookups.get(key);
    if (!lookup) {
      lookup = this.deps
        .memberships(subject.forgeAccessToken)
        .catch((err: Error) => {
          this.deps.log.warn({ person: subject.personId, login: subject.login, err: err.message }, 'forge organisations and teams unknown; organisation and team rules apply to this person (fail closed)');
          return undefined;
        })
        .then((m) => this.#remember(key, subject, policy, m))
        .finally(() => this.#lookups.delete(key));
      this.#lookups.set(key, lookup);
    }
    return lookup.then((c) => c.person);
  }

  #remember(key: string, subject: PolicySubject, policy: Policy, memberships: Cached['memberships']): Cached {
    const person = policy.forPerson({ login: subject.login, memberships });
    const c: Cached = { policy, login: subject.login, memberships, at: this.#now(), person };
    if ([...this.#policies.values(), this.#policy].includes(policy)) this.#people.set(key, c);
    return c;
  }
}
