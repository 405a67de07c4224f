/**
 * @module child/presets
 * How the known forge MCP servers take their forge URL and token. The token always travels in
 * the environment, never in argv (`ps` shows argv to every local user).
 */

/** Command line and environment names of one stdio MCP server. */
export interface ChildPreset {
  /** Executable, resolved on PATH unless absolute. */
  command: string;
  args: string[];
  /** Variable that carries the person's forge access token. */
  tokenEnv: string;
  /** Variable that carries the forge base URL. */
  urlEnv: string;
  /** Fixed, non-secret variables; they win over FJMCP_CHILD_ENV (child/child-env.ts). */
  env: Record<string, string>;
}

export const CHILD_PRESETS = {
  /**
   * gitea.com/gitea/gitea-mcp: `-t stdio`; `GITEA_HOST` and `GITEA_ACCESS_TOKEN` are read by both the
   * std-flag and the cobra eras of its CLI. The npm package `gitea-mcp`
   * (seepine) reads the same two variables and ignores the flag.
   */
  'gitea-mcp': { command: 'gitea-mcp', args: ['-t', 'stdio'], tokenEnv: 'GITEA_ACCESS_TOKEN', urlEnv: 'GITEA_HOST', env: {} },
  /**
   * npm `gitea-mcp` (seepine, github.com/seepine/gitea-mcp): a Node stdio server with its own tool
   * names (`issue__create`, …); reads `GITEA_HOST` and `GITEA_ACCESS_TOKEN`. Its own preset so the
   * tool policy can use the catalog reviewed for it (src/policy/catalogs.ts).
   */
  'gitea-mcp-npm': { command: 'gitea-mcp', args: [], tokenEnv: 'GITEA_ACCESS_TOKEN', urlEnv: 'GITEA_HOST', env: {} },
  /**
   * goern/forgejo-mcp v2: `--transport stdio`; `FORGEJO_URL`, `FORGEJO_ACCESS_TOKEN`.
   * File-path uploads read host files, so they are forced off.
   */
  'forgejo-mcp': {
    command: 'forgejo-mcp',
    args: ['--transport', 'stdio'],
    tokenEnv: 'FORGEJO_ACCESS_TOKEN',
    urlEnv: 'FORGEJO_URL',
    env: { FORGEJO_MCP_ALLOW_FILE_PATH_UPLOAD: 'false' },
  },
  /**
   * terraphim/gitea-robot `mcp-server`: PageRank triage, ready tasks, the dependency graph and
   * `add_dep`; reads `GITEA_URL` and `GITEA_TOKEN` (its docs/MCP_SERVER.md §Environment Variables).
   */
  'gitea-robot': { command: 'gitea-robot', args: ['mcp-server'], tokenEnv: 'GITEA_TOKEN', urlEnv: 'GITEA_URL', env: {} },
} as const satisfies Record<string, ChildPreset>;

export type ChildPresetName = keyof typeof CHILD_PRESETS;
