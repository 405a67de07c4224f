/**
 * @module child/child-env
 * The environment a person's MCP child runs with: a small allowlist copied from the broker, a
 * private HOME, the forge URL and that person's token, plus the configured non-secret extras.
 * Nothing else of the broker's environment (its client secret, encryption keys) ever reaches a
 * child (ferro-labs/ai-gateway PR#121: env leaks through inherited environments).
 */
import type { Config } from '../config.js';
import { CHILD_PRESETS } from './presets.js';

/** Variables copied from the broker's own environment when set. */
export const CHILD_ENV_ALLOWLIST = ['PATH', 'LANG', 'LC_ALL', 'TZ'] as const;

/**
 * @param child `Config['child']`.
 * @param home private HOME directory of this child.
 * @param forgeUrl forge base URL given to the child (`child.urlEnv`), when set.
 * @param token the person's forge access token (`child.tokenEnv`).
 * @param parentEnv the broker's environment, read only for {@link CHILD_ENV_ALLOWLIST}.
 */
export function buildChildEnv(
  child: Config['child'],
  home: string,
  forgeUrl: string | undefined,
  token: string,
  parentEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of CHILD_ENV_ALLOWLIST) {
    const v = parentEnv[name];
    if (v !== undefined) env[name] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.LANG ??= 'C.UTF-8';
  env.HOME = home;
  // Extras are operator-set and non-secret; they may not override the token or URL variables.
  for (const [k, v] of Object.entries(child.extraEnv)) env[k] = v;
  // A preset's fixed variables win over FJMCP_CHILD_ENV: forgejo-mcp's file-path upload (reads host
  // files) stays off whatever the operator sets.
  if (child.preset !== 'custom') for (const [k, v] of Object.entries(CHILD_PRESETS[child.preset].env)) env[k] = v;
  if (child.urlEnv && forgeUrl) env[child.urlEnv] = forgeUrl.replace(/\/+$/, '');
  env[child.tokenEnv] = token;
  return env;
}
