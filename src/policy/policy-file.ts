/**
 * @module policy/policy-file
 * Reads and validates the operator's policy file (`FJMCP_POLICY_FILE`): YAML 1.2 or JSON (JSON is
 * YAML 1.2, so one parser reads both). Every problem is reported at once, each with its place in
 * the file (`file:line:column` and the path of the key), so an operator can fix a file by hand.
 * Shape and semantics: docs/policy.md.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isNode, isScalar } from 'yaml';
import { z } from 'zod';

/** Thrown by {@link readPolicyFile}: one line per problem, each naming its place in the file. */
export class PolicyFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`invalid policy file ${file}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyFileError';
  }
}

const names = (what: string) =>
  z.array(z.string().trim().min(1, `an empty ${what}`), { error: `a list of ${what}s` });

/** `owner/repo` with globs in either part, exactly one `/`. */
const repoGlob = z
  .string({ error: 'an "owner/repository" glob' })
  .regex(/^[^/\s]+\/[^/\s]+$/, 'an "owner/repository" glob such as "team/*" (exactly one "/", no spaces)');

const People = z
  .strictObject({
    logins: names('forge login').optional(),
    orgs: names('forge organisation').optional(),
    /** `org/team`, as the forge names teams inside an organisation. */
    teams: z.array(z.string().regex(/^[^/\s]+\/[^/\s]+$/, 'a team as "organisation/team", e.g. "team/Owners"')).optional(),
    everyone: z.literal(true, { error: 'true (or leave it out)' }).optional(),
  })
  .refine((p) => p.everyone || p.logins?.length || p.orgs?.length || p.teams?.length, {
    error: 'people must name logins, orgs or teams, or say everyone: true',
  });

const Rule = z
  .strictObject({
    /** Free text shown in logs and refusals' audit records. */
    name: z.string().optional(),
    people: People,
    read_only: z.boolean({ error: 'true or false' }).optional(),
    tools: z
      .strictObject({
        allow: names('tool-name glob').optional(),
        deny: names('tool-name glob').optional(),
      })
      .optional(),
    repositories: z.array(repoGlob, { error: 'a list of "owner/repository" globs' }).optional(),
  })
  .refine((r) => r.read_only === true || r.tools?.allow || r.tools?.deny?.length || r.repositories, {
    error: 'this rule has no effect: give it read_only: true, tools.allow, tools.deny or repositories',
  });

export const PolicyFileSchema = z.strictObject({
  rules: z.array(Rule, { error: 'a list of rules' }),
});

export type PolicyFile = z.infer<typeof PolicyFileSchema>;
export type PolicyRule = PolicyFile['rules'][number];

/**
 * Parses and validates policy text. `file` is only used in messages.
 * @throws {PolicyFileError} with every syntax and shape problem, each as
 *   `file:line:column: path: what is wrong`.
 */
export function parsePolicy(text: string, file: string): PolicyFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length) {
    throw new PolicyFileError(file, doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`));
  }
  const value: unknown = doc.toJS();
  const r = PolicyFileSchema.safeParse(value ?? {}, { reportInput: true });
  if (r.success) return r.data;
  const problems = r.error.issues.map((issue) => {
    // The deepest node that exists names the place (a missing key points at its parent).
    const path = issue.path as (string | number)[];
    let node: unknown;
    for (let n = path.length; n >= 0; n--) {
      node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node)) break;
    }
    let offset = isNode(node) ? node.range?.[0] : undefined;
    if (issue.code === 'unrecognized_keys' && isMap(node)) {
      const key = node.items.find((p) => isScalar(p.key) && p.key.value === issue.keys[0])?.key;
      if (isScalar(key)) offset = key.range?.[0];
    }
    return `${at(offset)}: ${formatPath(path)}: ${describe(issue)}`;
  });
  throw new PolicyFileError(file, problems);
}

/**
 * Reads and validates the file at `path`.
 * @throws {PolicyFileError} when it cannot be read or is invalid.
 */
export function readPolicyFile(path: string): PolicyFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyFileError(path, [`${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parsePolicy(text, path);
}

function formatPath(path: readonly (string | number | symbol)[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.code === 'invalid_type') {
    const msg = issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : `expected ${issue.message}`;
    return issue.input === undefined ? `missing (${msg})` : msg;
  }
  return issue.message;
}
