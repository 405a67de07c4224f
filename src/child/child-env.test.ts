import { describe, expect, it } from 'vitest';
import { buildChildEnv } from './child-env.js';
import type { Config } from '../config.js';

const child = { preset: 'custom', tokenEnv: 'GITEA_ACCESS_TOKEN', urlEnv: 'GITEA_HOST', extraEnv: { FORGEJO_MCP_ALLOW_FILE_PATH_UPLOAD: 'false' } } as unknown as Config['child'];

describe('child environment', () => {
  it('holds the allowlist, a private HOME, the forge URL and the person\'s token, nothing else of the broker', () => {
    const env = buildChildEnv(child, '/tmp/h', 'https://forge.example.org/', 'tok', {
      PATH: '/bin', LANG: 'C', FJMCP_FORGE_CLIENT_SECRET: 's3cret', FJMCP_ENCRYPTION_KEYS: 'k', AWS_SECRET_ACCESS_KEY: 'x',
    });
    expect(env).toEqual({
      PATH: '/bin', LANG: 'C', HOME: '/tmp/h', GITEA_HOST: 'https://forge.example.org', GITEA_ACCESS_TOKEN: 'tok', FORGEJO_MCP_ALLOW_FILE_PATH_UPLOAD: 'false',
    });
  });
  it('keeps forgejo-mcp\'s file-path upload off even when FJMCP_CHILD_ENV turns it on', () => {
    const forgejo = { preset: 'forgejo-mcp', tokenEnv: 'FORGEJO_ACCESS_TOKEN', urlEnv: 'FORGEJO_URL', extraEnv: { FORGEJO_MCP_ALLOW_FILE_PATH_UPLOAD: 'true' } } as unknown as Config['child'];
    expect(buildChildEnv(forgejo, '/h', 'https://f.example', 't', {}).FORGEJO_MCP_ALLOW_FILE_PATH_UPLOAD).toBe('false');
  });

  it('lets no configured extra override the token variable', () => {
    const env = buildChildEnv({ ...child, extraEnv: { GITEA_ACCESS_TOKEN: 'someone-else' } }, '/h', undefined, 'mine', {});
    expect(env.GITEA_ACCESS_TOKEN).toBe('mine');
  });
});
