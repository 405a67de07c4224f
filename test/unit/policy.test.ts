/**
 * @module test/unit/policy — the policy file (docs/policy.md): parsing with every error at its
 * place, rule selection by login, organisation and team, read_only, tool globs, repository globs
 * with fail-closed argument extraction, and the policy service's reload keeping the last good one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/ops/log.js';
import { TOOL_CATALOGS } from '../../src/policy/catalogs.js';
import { parsePolicy, PolicyFileError } from '../../src/policy/policy-file.js';
import { Policy } from '../../src/policy/policy.js';
import { PolicyService } from '../../src/policy/policy-service.js';

/** The issue's example, verbatim (operators and tests write it). */
const ISSUE_EXAMPLE = `rules:                       # every rule whose \`people\` match applies; deny wins
  - people: { logins: [alice] }
    read_only: true
  - people: { logins: [bob] }
    repositories: ["team/*"]
  - people: { orgs: [team] }
    tools: { deny: ["delete_*"] }
`;

const npm = TOOL_CATALOGS['gitea-mcp-npm']!;
const policyOf = (text: string) => new Policy(parsePolicy(text, 'policy.yaml'), npm);
const problemsOf = (text: string): string[] => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (err) {
    if (err instanceof PolicyFileError) return err.problems;
    throw err;
  }
  throw new Error('the file was accepted');
};
const none = { orgs: [], teams: [] };
const inTeam = { orgs: ['team'], teams: ['team/Owners'] };

describe('policy file', () => {
  it('accepts the issue example verbatim', () => {
    expect(parsePolicy(ISSUE_EXAMPLE, 'p.yaml').rules).toHaveLength(3);
  });

  it('accepts JSON, since JSON is YAML 1.2', () => {
    expect(parsePolicy('{"rules":[{"people":{"teams":["team/Owners"]},"read_only":true}]}', 'p.json').rules[0]!.people.teams).toEqual(['team/Owners']);
  });

  it('names every problem with file, line, column and key path', () => {
    const p = problemsOf('rules:\n  - people: { logins: alice }\n    read_only: yes\n    tools: { denny: [x] }\n');
    expect(p).toContain('policy.yaml:2:23: rules[0].people.logins: expected a list of forge logins');
    expect(p).toContain('policy.yaml:3:16: rules[0].read_only: expected true or false');
    expect(p).toContain('policy.yaml:4:14: rules[0].tools: unknown key "denny"');
  });

  it('reports YAML syntax errors at their line', () => {
    expect(problemsOf('rules: [\n  - x\n')[0]).toMatch(/^policy\.yaml:\d+:\d+: /);
  });

  it('refuses a rule that selects nobody or does nothing, and a repository glob without owner', () => {
    expect(problemsOf('rules:\n  - people: {}\n    read_only: true\n')).toEqual([
      'policy.yaml:2:13: rules[0].people: people must name logins, orgs or teams, or say everyone: true',
    ]);
    expect(problemsOf('rules:\n  - people: { logins: [a] }\n')[0]).toMatch(/rules\[0\]: this rule has no effect/);
    expect(problemsOf('rules:\n  - people: { logins: [a] }\n    repositories: [team]\n')[0]).toMatch(/^policy\.yaml:3:20: rules\[0\]\.repositories\[0\]: an "owner\/repository" glob/);
  });

  it('refuses an empty file: rules is required', () => {
    expect(problemsOf('')).toEqual(['policy.yaml: rules: missing (expected a list of rules)']);
  });
});

describe('rules and decisions (issue example)', () => {
  const policy = policyOf(ISSUE_EXAMPLE);

  it('read_only: alice may call reading tools, not issue__create, and does not see it', () => {
    const alice = policy.forPerson({ login: 'Alice', memberships: inTeam });
    expect(alice.check('issue__list', {}, { owner: 'alice', repo: 'x' }).allowed).toBe(true);
    const refused = alice.check('issue__create', {}, { owner: 'alice', repo: 'x', title: 't' });
    expect(refused).toMatchObject({ allowed: false, reason: 'read-only', repository: 'alice/x' });
    expect(refused.allowed || refused.message).toBe('this broker allows you read-only access; `issue__create` is not allowed');
    expect(alice.visible('issue__create')).toBe(false);
    expect(alice.visible('issue__list')).toBe(true);
  });

  it('read_only: a tool the broker does not know is writing (fail closed), unless the child annotates it readOnlyHint', () => {
    const alice = policy.forPerson({ login: 'alice', memberships: none });
    expect(alice.check('mystery_tool', {}, {}).allowed).toBe(false);
    expect(alice.check('mystery_tool', { readOnlyHint: true }, {}).allowed).toBe(true);
    expect(alice.check('mystery_tool', { readOnlyHint: false }, {}).allowed).toBe(false);
  });

  it('repositories: bob may act on team/* and not on his own repository', () => {
    const bob = policy.forPerson({ login: 'bob', memberships: inTeam });
    expect(bob.check('issue__list', {}, { owner: 'team', repo: 'team-private' })).toEqual({ allowed: true, repository: 'team/team-private' });
    expect(bob.check('issue__list', {}, { owner: 'TEAM', repo: 'Team-Private' }).allowed).toBe(true);
    const own = bob.check('issue__list', {}, { owner: 'bob', repo: 'bob-private' });
    expect(own).toMatchObject({ allowed: false, reason: 'repository', repository: 'bob/bob-private' });
  });

  it('repositories: a call whose repository cannot be determined is refused (fail closed)', () => {
    const bob = policy.forPerson({ login: 'bob', memberships: none });
    expect(bob.check('issue__list', {}, { owner: 'team' })).toMatchObject({ allowed: false, reason: 'repository-unknown' });
    expect(bob.check('issue__list', {}, { owner: 'team', repo: 'a/../../x' })).toMatchObject({ allowed: false, reason: 'repository-unknown' });
    expect(bob.check('issue__list', {}, { owner: 'team', repo: 7 })).toMatchObject({ allowed: false, reason: 'repository-unknown' });
    expect(bob.check('repo__list_my', {}, {})).toMatchObject({ allowed: false, reason: 'repository-unknown' });
    expect(bob.check('unknown_tool', { readOnlyHint: true }, { owner: 'team', repo: 'x' })).toMatchObject({ allowed: false, reason: 'repository-unknown' });
    expect(bob.visible('repo__list_my')).toBe(false);
    expect(bob.visible('unknown_tool')).toBe(false);
  });

  it('repositories: a tool that touches no repository stays allowed', () => {
    const bob = policy.forPerson({ login: 'bob', memberships: none });
    expect(bob.check('user__get_my_userinfo', {}, {}).allowed).toBe(true);
    expect(bob.visible('user__get_my_userinfo')).toBe(true);
  });

  it('orgs: members of team are denied delete_*; carol, in no rule, is unrestricted', () => {
    const member = policy.forPerson({ login: 'dave', memberships: inTeam });
    expect(member.check('delete_repo', {}, {})).toMatchObject({ allowed: false, reason: 'tool-denied' });
    expect(member.check('issue__create', {}, { owner: 'x', repo: 'y' }).allowed).toBe(true);
    const carol = policy.forPerson({ login: 'carol', memberships: none });
    expect(carol.unrestricted).toBe(true);
    expect(carol.check('delete_repo', {}, {}).allowed).toBe(true);
  });

  it('orgs: with memberships unknown, organisation rules apply (fail closed)', () => {
    const carol = policy.forPerson({ login: 'carol' });
    expect(carol.check('delete_repo', {}, {}).allowed).toBe(false);
  });
});

describe('rules combine; deny wins', () => {
  it('tools.allow restricts to its globs, tools.deny wins over an allow, teams select by org/team', () => {
    const policy = policyOf(`rules:
  - people: { teams: [team/owners] }
    tools: { allow: ["issue__*", "user__*"], deny: ["issue__create"] }
`);
    const owner = policy.forPerson({ login: 'x', memberships: inTeam });
    expect(owner.check('issue__list', {}, {}).allowed).toBe(true);
    expect(owner.check('issue__create', {}, {})).toMatchObject({ allowed: false, reason: 'tool-denied' });
    expect(owner.check('pull_request__list', {}, {})).toMatchObject({ allowed: false, reason: 'tool-not-allowed' });
    expect(policy.forPerson({ login: 'x', memberships: { orgs: ['team'], teams: ['team/Readers'] } }).unrestricted).toBe(true);
  });

  it('two repository rules must both admit the repository', () => {
    const policy = policyOf(`rules:
  - people: { everyone: true }
    repositories: ["team/*", "alice/*"]
  - people: { logins: [alice] }
    repositories: ["*/public-*"]
`);
    const alice = policy.forPerson({ login: 'alice', memberships: none });
    expect(alice.check('issue__list', {}, { owner: 'team', repo: 'public-x' }).allowed).toBe(true);
    expect(alice.check('issue__list', {}, { owner: 'team', repo: 'secret' }).allowed).toBe(false);
    expect(policy.forPerson({ login: 'bob', memberships: none }).check('issue__list', {}, { owner: 'team', repo: 'secret' }).allowed).toBe(true);
  });

  it('no policy file: everything is allowed to everyone', () => {
    const open = Policy.OPEN.forPerson({ login: 'alice' });
    expect(open.unrestricted).toBe(true);
    expect(open.check('anything', {}, undefined).allowed).toBe(true);
    expect(Policy.OPEN.active).toBe(false);
  });
});

describe('PolicyService', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const fileWith = (text: string) => {
    dir ??= mkdtempSync(join(tmpdir(), 'fjmcp-policy-'));
    const path = join(dir, 'policy.yaml');
    writeFileSync(path, text);
    return path;
  };
  const service = (file: string | undefined, memberships = async () => inTeam) =>
    new PolicyService({ file, preset: 'gitea-mcp-npm', log: silentLogger, memberships });

  it('refuses to start with a bad file', () => {
    expect(() => service(fileWith('rules: 3\n'))).toThrow(PolicyFileError);
  });

  it('a bad reload keeps the last good policy and reports it in the status; a good one replaces it and notifies', async () => {
    const file = fileWith(ISSUE_EXAMPLE);
    const s = service(file);
    const changed: number[] = [];
    s.onChange((p) => changed.push(p.file!.rules.length));
    writeFileSync(file, 'rules:\n  - people: { logins: [alice] }\n    read_only: maybe\n');
    expect(s.reload()).toBe(false);
    expect(s.status()).toMatchObject({ rules: 3, lastReloadError: { problems: [expect.stringContaining('rules[0].read_only')] } });
    expect((await s.forPerson({ personId: '1', login: 'alice', forgeAccessToken: 't' })).check('issue__create', {}, {}).allowed).toBe(false);
    expect(changed).toEqual([]);
    writeFileSync(file, 'rules:\n  - people: { logins: [bob] }\n    read_only: true\n');
    expect(s.reload()).toBe(true);
    expect(changed).toEqual([1]);
    expect(s.status().lastReloadError).toBeNull();
    expect((await s.forPerson({ personId: '1', login: 'alice', forgeAccessToken: 't' })).unrestricted).toBe(true);
  });

  it('asks the forge for memberships only when a rule needs them, and fails closed when it cannot', async () => {
    let asked = 0;
    const s = service(fileWith(ISSUE_EXAMPLE), async () => {
      asked++;
      throw new Error('403 read:organization missing');
    });
    const carol = await s.forPerson({ personId: '3', login: 'carol', forgeAccessToken: 't' });
    expect(asked).toBe(1);
    expect(carol.check('delete_repo', {}, {}).allowed).toBe(false);
    const loginsOnly = service(fileWith('rules:\n  - people: { logins: [alice] }\n    read_only: true\n'), async () => {
      asked++;
      return none;
    });
    const cached = loginsOnly.forPerson({ personId: '3', login: 'carol', forgeAccessToken: 't' });
    expect(cached).not.toBeInstanceOf(Promise);
    expect(asked).toBe(1);
  });

  it('without a file, says so and allows everything', async () => {
    const s = service(undefined);
    expect(s.current.active).toBe(false);
    expect(s.status()).toMatchObject({ file: null, rules: 0 });
    expect((await s.forPerson({ personId: '1', login: 'alice', forgeAccessToken: 't' })).unrestricted).toBe(true);
  });
});
