import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from '../../src/ops/log.js';

describe('secrets never reach the logs', () => {
  it('redacts token-shaped text and known secrets in free text such as child stderr', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJnbnQiOjF9.c2lnbmF0dXJl';
    const out = redactText(`auth ok with ${jwt}; Authorization: token abcdef123456; gto_SECRETSECRET; mine=s3cr3t-value`, ['s3cr3t-value']);
    expect(out).not.toContain(jwt);
    expect(out).not.toContain('abcdef123456');
    expect(out).not.toContain('gto_SECRETSECRET');
    expect(out).not.toContain('s3cr3t-value');
    expect(out).toContain('[redacted]');
  });

  it('redacts token and secret fields of logged objects by name', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    const log = createLogger('info', sink);
    log.info({ req: { headers: { authorization: 'Bearer mcpb_at_x' } }, body: { refresh_token: 'mcpb_rt_y', client_secret: 'z' } }, 'request');
    const line = lines.join('');
    expect(line).not.toContain('mcpb_at_x');
    expect(line).not.toContain('mcpb_rt_y');
    expect(line).toContain('[redacted]');
    expect(JSON.parse(line).level).toBe('info');
  });
});
