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
import { CHILD_PRESETS } from '../child/presets.js';

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
    /** The servers the rule applies at (`default` = `/mcp`); absent = every server. */
    servers: names('server name').optional(),
  })
  .refine((r) => r.read_only === true || r.tools?.allow || r.tools?.deny?.length || r.repositories, {
    error: 'this rule has no effect: give it read_only: true, tools.allow, tools.deny or repositories',
  });

/** The name of the server at `/mcp`, in rules' `servers`, the audit and the logs. */
export const DEFAULT_SERVER = 'default';

/** A server name: the last segment of its path `/mcp/<name>`. */
const SERVER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
/** An environment variable name (POSIX portable). */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name such as GITEA_TOKEN');
const positive = z.number({ error: 'a positive whole number' }).int('a positive whole number').positive('a positive whole number');

/**
 * One MCP server served at `/mcp/<name>`: a preset, or a command with the name of the variable
 * that carries the person's token; the other keys override the preset's, as `FJMCP_CHILD_*` do.
 */
const Server = z
  .strictObject({
    /** Shown on the consent page and in the protected-resource metadata. */
    title: z.string().trim().min(1).max(100).optional(),
    preset: z.enum(['custom', ...Object.keys(CHILD_PRESETS)] as [string, ...string[]], { error: `one of ${Object.keys(CHILD_PRESETS).join(', ')}, custom` }).optional(),
    command: z.string().trim().min(1, 'an executable (absolute path or a name on PATH)').optional(),
    args: z.array(z.string(), { error: 'a list of strings (never a token)' }).optional(),
    token_env: envName.optional(),
    url_env: envName.optional(),
    env: z.record(envName, z.string(), { error: 'a map of variable names to non-secret values' }).optional(),
    idle_s: positive.optional(),
    max_children: positive.optional(),
  })
  .refine((s) => (s.preset && s.preset !== 'custom') || (s.command && s.token_env), {
    error: 'give a preset, or command and token_env',
  });

export const PolicyFileSchema = z
  .strictObject({
    /** MCP servers besides the one at `/mcp` (FJMCP_CHILD_*), by name. Read at start only. */
    servers: z
      .record(
        z.string().regex(SERVER_NAME, 'a server name: lower-case letters, digits and "-", e.g. robot').refine((n) => n !== DEFAULT_SERVER, `"${DEFAULT_SERVER}" is the server at /mcp`)
          // /mcp/sse and /mcp/messages are the legacy HTTP+SSE endpoints of the server at /mcp (FJMCP_LEGACY_SSE).
          .refine((n) => n !== 'sse' && n !== 'messages', 'sse and messages are reserved (the legacy SSE endpoints /mcp/sse and /mcp/messages)'),
        Server,
      )
      .optional(),
    rules: z.array(Rule, { error: 'a list of rules' }),
  })
  .superRefine((f, ctx) => {
    const known = new Set([DEFAULT_SERVER, ...Object.keys(f.servers ?? {})]);
    f.rules.forEach((r, i) =>
      r.servers?.forEach((name, j) => {
        if (!known.has(name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'servers', j], message: `no server named "${name}" (known: ${[...known].join(', ')})` });
      }),
    );
  });

export type PolicyFile = z.infer<typeof PolicyFileSchema>;
export type PolicyRule = PolicyFile['rules'][number];
export type ServerEntry = NonNullable<PolicyFile['servers']>[string];

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
  // A server name that is not one (zod reports the key's own problem inside).
  if (issue.code === 'invalid_key') return issue.issues.map((i) => i.message).join('; ');
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.code === 'invalid_type') {
    const msg = issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : `expected ${issue.message}`;
    return issue.input === undefined ? `missing (${msg})` : msg;
  }
  return issue.message;
}
