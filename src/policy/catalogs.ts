/**
 * @module policy/catalogs
 * What the broker knows about the tools of each child preset, reviewed by hand tool by tool:
 * which tools only read, and which arguments name the repository a tool acts on. Used only when
 * the child does not say it itself (`annotations.readOnlyHint`, MCP 2025-06-18 server/tools
 * §ToolAnnotations). A tool that is not listed is treated as writing and as acting on an unknown
 * repository (fail closed). Reviewing a new child version: docs/policy.md §Catalogs.
 */

/** Where a tool's repository comes from. */
export type RepositoryArgs =
  /** `arguments[owner]` / `arguments[repo]`, both non-empty strings without `/`. */
  | { owner: string; repo: string }
  /** The tool touches no repository (e.g. "who am I"): repository rules do not refuse it. */
  | 'none'
  /** The tool spans or creates repositories it does not name: refused under a repository rule. */
  | 'unknown';

export interface ToolEntry {
  /** True when the tool only reads (reviewed against the child's source). */
  reads: boolean;
  repository: RepositoryArgs;
}

export type ToolCatalog = Readonly<Record<string, ToolEntry>>;

const OR = { owner: 'owner', repo: 'repo' } as const;
const read = (repository: RepositoryArgs = OR): ToolEntry => ({ reads: true, repository });
const write = (repository: RepositoryArgs = OR): ToolEntry => ({ reads: false, repository });

/**
 * npm `gitea-mcp` 0.0.10 (seepine): 30 tools, none annotated. Listed from the real child's
 * `tools/list` and reviewed against its `dist/server/*.js` (every `owner`/`repo` pair is the
 * repository path of the Gitea API call it makes).
 */
const NPM_GITEA_MCP: ToolCatalog = {
  user__get_my_userinfo: read('none'),
  repo__list_my: read('unknown'), // every repository of the person
  repo__create: write('unknown'), // creates a repository it does not name as owner/repo
  repo__fork: write('unknown'), // the fork lands outside the named repository
  repo__list_tags: read(),
  issue__get_by_index: read(),
  issue__list: read(),
  issue__search_list: read('unknown'), // searches across repositories
  issue__create: write(),
  issue__add_labels: write(),
  issue__remove_labels: write(),
  issue__edit: write(),
  issue__comment_list: read(),
  issue__comment_create: write(),
  issue__comment_edit: write(),
  issue_label__list: read(),
  issue_label__create: write(),
  issue_label__edit: write(),
  issue_label__delete: write(),
  pull_request__list: read(),
  pull_request__get: read(),
  pull_request__create: write(),
  pull_request__add_reviewer: write(),
  pull_request__request_to_re_review: write(),
  pull_request__delete_reviewer: write(),
  pull_request__get_review: read(),
  pull_request__get_review_comments: read(),
  pull_request__list_reviews: read(),
  pull_request__edit: write(),
  pull_request__list_my: read('unknown'), // across repositories
};

/**
 * terraphim/gitea-robot `mcp-server`: its four tools as its docs/MCP_SERVER.md §Available MCP
 * Tools describes them (not reviewed against a running child: it cannot be built here), each
 * taking `owner` and `repo`; only `add_dep` writes.
 */
const GITEA_ROBOT: ToolCatalog = {
  triage: read(),
  ready: read(),
  graph: read(),
  add_dep: write(),
};

/** Catalogs by child preset name (src/child/presets.ts). `custom` has none: annotations only. */
export const TOOL_CATALOGS: Readonly<Record<string, ToolCatalog>> = {
  'gitea-mcp-npm': NPM_GITEA_MCP,
  'gitea-robot': GITEA_ROBOT,
};
