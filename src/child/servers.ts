/**
 * @module child/servers
 * The MCP servers one broker serves, each at its own URL and each its own protected resource
 * (RFC 9728): the server at `/mcp` from the `FJMCP_CHILD_*` settings (named `default`), and one at
 * `/mcp/<name>` for each entry of the policy file's `servers` (docs/policy.md §Servers). Every
 * entry's child settings start from the preset's and override them key by key, as
 * `FJMCP_CHILD_*` do; what an entry does not set (sandbox, stop grace, message cap) is the
 * broker-wide setting.
 */
import type { Config } from '../config.js';
import { DEFAULT_SERVER, type PolicyFile } from '../policy/policy-file.js';
import { CHILD_PRESETS, type ChildPresetName } from './presets.js';

/** One MCP server and the child it runs per person. */
export interface McpServer {
  /** `default` for `/mcp`, else the name in the policy file (`/mcp/<name>`). */
  readonly name: string;
  /** Path of its MCP endpoint: `/mcp` or `/mcp/<name>`. */
  readonly path: string;
  /** The protected resource (RFC 8707 audience of its tokens): the issuer plus {@link path}. */
  readonly resource: string;
  /** Human name for the consent page and `resource_name` (RFC 9728 §2). */
  readonly title: string;
  /** `Config['child']` of this server's children. */
  readonly child: Config['child'];
}

export { DEFAULT_SERVER };

/** The server at `/mcp`, from the `FJMCP_CHILD_*` settings, as before several servers existed. */
export function defaultServer(config: Config): McpServer {
  return { name: DEFAULT_SERVER, path: '/mcp', resource: config.mcpUrl, title: 'Forge via MCP', child: config.child };
}

/**
 * Every server, the one at `/mcp` first.
 * @param servers the policy file's `servers` section (already validated by policy/policy-file.ts).
 */
export function resolveServers(config: Config, servers: PolicyFile['servers'] | undefined): McpServer[] {
  const out = [defaultServer(config)];
  for (const [name, s] of Object.entries(servers ?? {})) {
    const presetName = s.preset && s.preset !== 'custom' ? (s.preset as ChildPresetName) : undefined;
    const preset = presetName ? CHILD_PRESETS[presetName] : undefined;
    const path = `/mcp/${name}`;
    out.push({
      name,
      path,
      resource: `${config.issuer}${path}`,
      title: s.title ?? name,
      child: {
        ...config.child,
        preset: presetName ?? 'custom',
        command: s.command ?? preset?.command ?? '',
        args: s.args ?? [...(preset?.args ?? [])],
        tokenEnv: s.token_env ?? preset?.tokenEnv ?? '',
        urlEnv: s.url_env ?? preset?.urlEnv,
        extraEnv: { ...(preset?.env ?? {}), ...(s.env ?? {}) },
        idleS: s.idle_s ?? config.child.idleS,
        maxChildren: s.max_children ?? config.child.maxChildren,
      },
    });
  }
  return out;
}
