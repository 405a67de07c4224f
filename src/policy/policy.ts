/**
 * @module policy/policy
 * The compiled tool policy: which rules select a person, and whether that person's assistant may
 * see and call a tool with given arguments. Pure (no I/O) and cheap per call: globs are compiled
 * once per file, the rules that apply are merged once per person ({@link PersonPolicy}).
 * Semantics (docs/policy.md): every rule whose `people` match applies; rules only restrict, so
 * deny wins; a tool the broker does not know is writing and acts on an unknown repository.
 */
import picomatch from 'picomatch';
import type { PolicyFile, PolicyRule } from './policy-file.js';
import type { ToolCatalog, ToolEntry } from './catalogs.js';

/** What the child said about a tool in `tools/list` (MCP 2025-06-18 server/tools §ToolAnnotations). */
export interface ToolFacts {
  readOnlyHint?: boolean;
}

/**
 * Who is calling. `memberships` undefined means the forge could not tell (or was not asked):
 * every rule that selects by organisation or team then applies (fail closed; rules only restrict).
 */
export interface PersonFacts {
  login: string;
  memberships?: { orgs: readonly string[]; teams: readonly string[] };
}

export type RefusalReason = 'read-only' | 'tool-denied' | 'tool-not-allowed' | 'repository' | 'repository-unknown';

export type Decision =
  | { allowed: true; repository?: string }
  | { allowed: false; reason: RefusalReason; message: string; repository?: string };

const ALLOWED: Decision = Object.freeze({ allowed: true });

type Matcher = (s: string) => boolean;
const toolGlob = (globs: readonly string[]): Matcher => picomatch(globs as string[], { dot: true });
/** Forge owner and repository names are case-insensitive (Gitea/Forgejo lower-case them for lookup). */
const repoGlob = (globs: readonly string[]): Matcher => picomatch(globs as string[], { dot: true, nocase: true });

interface CompiledRule {
  rule: PolicyRule;
  logins: Set<string>;
  orgs: Set<string>;
  teams: Set<string>;
  allow?: Matcher;
  deny?: Matcher;
  repositories?: Matcher;
}

export class Policy {
  /** No policy file: every tool allowed to everyone (the broker's behaviour without a policy). */
  static readonly OPEN = new Policy(undefined, {});

  readonly #rules: CompiledRule[];
  /** True when some rule selects by organisation or team (then memberships are worth asking). */
  readonly needsMemberships: boolean;

  constructor(readonly file: PolicyFile | undefined, readonly catalog: ToolCatalog) {
    const lower = (xs: readonly string[] | undefined) => new Set((xs ?? []).map((x) => x.toLowerCase()));
    this.#rules = (file?.rules ?? []).map((rule) => ({
      rule,
      logins: lower(rule.people.logins),
      orgs: lower(rule.people.orgs),
      teams: lower(rule.people.teams),
      allow: rule.tools?.allow ? toolGlob(rule.tools.allow) : undefined,
      deny: rule.tools?.deny?.length ? toolGlob(rule.tools.deny) : undefined,
      repositories: rule.repositories ? repoGlob(rule.repositories) : undefined,
    }));
    this.needsMemberships = this.#rules.some((r) => r.orgs.size > 0 || r.teams.size > 0);
  }

  /** True when a policy file is in force (even one with no rules). */
  get active(): boolean {
    return this.file !== undefined;
  }

  /** The effective policy of one person: the merge of every rule that selects them. */
  forPerson(person: PersonFacts): PersonPolicy {
    const login = person.login.toLowerCase();
    const m = person.memberships;
    const orgs = m ? new Set(m.orgs.map((o) => o.toLowerCase())) : undefined;
    const teams = m ? new Set(m.teams.map((t) => t.toLowerCase())) : undefined;
    const applies = this.#rules.filter(({ rule, logins, orgs: ro, teams: rt }) => {
      if (rule.people.everyone || logins.has(login)) return true;
      if (ro.size === 0 && rt.size === 0) return false;
      if (!orgs || !teams) return true; // memberships unknown: the rule applies (fail closed)
      for (const o of ro) if (orgs.has(o)) return true;
      for (const t of rt) if (teams.has(t)) return true;
      return false;
    });
    return new PersonPolicy(applies, this.catalog);
  }
}

/** One person's effective policy; {@link check} is the per-call hot path. */
export class PersonPolicy {
  /** True when no rule applies: every tool is allowed without looking at it. */
  readonly unrestricted: boolean;
  readonly #readOnly: boolean;
  readonly #deny: Matcher[];
  readonly #allow: { match: Matcher; globs: readonly string[] }[];
  readonly #repos: { match: Matcher; globs: readonly string[] }[];

  constructor(rules: readonly CompiledRule[], private readonly catalog: ToolCatalog) {
    this.unrestricted = rules.length === 0;
    this.#readOnly = rules.some((r) => r.rule.read_only === true);
    this.#deny = rules.flatMap((r) => (r.deny ? [r.deny] : []));
    this.#allow = rules.flatMap((r) => (r.allow ? [{ match: r.allow, globs: r.rule.tools!.allow! }] : []));
    this.#repos = rules.flatMap((r) => (r.repositories ? [{ match: r.repositories, globs: r.rule.repositories! }] : []));
  }

  /**
   * Whether `tools/list` shows the tool: every check that does not depend on the arguments, and
   * a repository rule hides tools whose repository can never be determined.
   */
  visible(name: string, facts: ToolFacts = {}): boolean {
    if (this.unrestricted) return true;
    if (this.#byName(name, facts)) return false;
    if (this.#repos.length === 0) return true;
    const repo = this.#entry(name)?.repository;
    return repo !== undefined && repo !== 'unknown';
  }

  /**
   * Decides one `tools/call`. Never throws; unknown tools and unreadable arguments are refused
   * where a rule needs to know them (fail closed).
   * @param args the call's `arguments` as the client sent them.
   */
  check(name: string, facts: ToolFacts, args: unknown): Decision {
    if (this.unrestricted) return ALLOWED;
    const byName = this.#byName(name, facts);
    const entry = this.#entry(name);
    const repository = repositoryOf(entry, args);
    if (byName) return repository ? { ...byName, repository } : byName;
    if (this.#repos.length === 0 || entry?.repository === 'none') return repository ? { allowed: true, repository } : ALLOWED;
    const scope = this.#repos.map((r) => r.globs.join(', ')).join('; and ');
    if (!repository) {
      return {
        allowed: false,
        reason: 'repository-unknown',
        message: `this broker allows you only the repositories ${scope}; \`${name}\` does not name one repository the broker can check, so it is not allowed`,
      };
    }
    for (const r of this.#repos) {
      if (!r.match(repository)) {
        return { allowed: false, reason: 'repository', repository, message: `this broker allows you only the repositories ${scope}; \`${repository}\` is not allowed` };
      }
    }
    return { allowed: true, repository };
  }

  /** `owner/repo` a call of `name` acts on, when the catalog can tell (for the audit). */
  repositoryOf(name: string, args: unknown): string | undefined {
    return repositoryOf(this.#entry(name), args);
  }

  #entry(name: string): ToolEntry | undefined {
    return Object.hasOwn(this.catalog, name) ? this.catalog[name] : undefined;
  }

  /** The refusal that depends on the tool's name and nature only, if any. */
  #byName(name: string, facts: ToolFacts): Exclude<Decision, { allowed: true }> | undefined {
    for (const deny of this.#deny) {
      if (deny(name)) return { allowed: false, reason: 'tool-denied', message: `this broker's policy does not allow you \`${name}\`` };
    }
    for (const allow of this.#allow) {
      if (!allow.match(name)) return { allowed: false, reason: 'tool-not-allowed', message: `this broker's policy allows you only the tools ${allow.globs.join(', ')}; \`${name}\` is not allowed` };
    }
    if (this.#readOnly && !this.#reads(name, facts)) {
      return { allowed: false, reason: 'read-only', message: `this broker allows you read-only access; \`${name}\` is not allowed` };
    }
    return undefined;
  }

  /** The child's own annotation wins when it says "read-only"; otherwise the reviewed catalog. */
  #reads(name: string, facts: ToolFacts): boolean {
    if (facts.readOnlyHint === true) return true;
    return this.#entry(name)?.reads === true;
  }
}

const SEGMENT = /^[^/\\\s]+$/;

/** `owner/repo` from the call's arguments per the catalog, or undefined when it cannot be told. */
function repositoryOf(entry: ToolEntry | undefined, args: unknown): string | undefined {
  const spec = entry?.repository;
  if (!spec || typeof spec !== 'object' || !args || typeof args !== 'object') return undefined;
  const owner = (args as Record<string, unknown>)[spec.owner];
  const repo = (args as Record<string, unknown>)[spec.repo];
  if (typeof owner !== 'string' || typeof repo !== 'string') return undefined;
  if (!SEGMENT.test(owner) || !SEGMENT.test(repo) || owner === '..' || repo === '..' || owner === '.' || repo === '.') return undefined;
  return `${owner}/${repo}`;
}
