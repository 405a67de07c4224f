/**
 * @module test/deploy/quadlet
 * The Quadlet unit is accepted by podman's own Quadlet generator of every targeted release (4.9.3,
 * 5.0.0; built by scripts/quadlet-check from the Go module proxy, no container engine needed) and
 * turns into the `podman run` the docs promise. A unit with a key 4.9 does not know is rejected,
 * so the check can fail.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/testbed.js';

const script = join(repoRoot, 'scripts', 'quadlet-check');
const UNIT = join(repoRoot, 'deploy', 'podman', 'fjmcp-broker.container');

describe('deploy/podman/fjmcp-broker.container', () => {
  it('is accepted by the Quadlet generators of podman 4.9.3 and 5.0.0, with and without podman secrets', async () => {
    const r = await execa(script, [], { reject: false, all: true });
    expect(r.exitCode, r.all).toBe(0);
    const ok = r.stdout.split('\n').filter((l) => l.startsWith('OK podman'));
    expect(ok.map((l) => l.slice(0, l.indexOf(':')))).toEqual([
      'OK podman v4.9.3 (shipped)', 'OK podman v4.9.3 (secrets)', 'OK podman v5.0.0 (shipped)', 'OK podman v5.0.0 (secrets)',
    ]);
    for (const line of ok) {
      for (const flag of ['-v fjmcp-broker-data:/data', '--publish 127.0.0.1:8787:8787', '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges',
        '--env-file %h/.config/fjmcp-broker/fjmcp-broker.env', '--health-cmd', '--env FJMCP_TRUST_PROXY=true', '--label io.containers.autoupdate=local']) {
        expect(line).toContain(flag);
      }
      expect(line.endsWith(' localhost/fjmcp-broker:latest')).toBe(true);
      // /healthz is 503 during a forge outage; killing the broker then would only cut sessions.
      expect(line).not.toContain('--health-on-failure');
    }
    const secrets = ok.filter((l) => l.includes('(secrets)'));
    for (const line of secrets) expect(line).toContain('--secret fjmcp-forge-client-secret,type=mount,uid=65532,gid=65532,mode=0400');
  }, 600_000);

  it('fails a unit that uses a key podman 4.9 does not know (StopTimeout came in 5.0)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quadlet-bad-'));
    try {
      copyFileSync(UNIT, join(dir, 'fjmcp-broker.container'));
      writeFileSync(join(dir, 'fjmcp-broker.container'), readFileSync(UNIT, 'utf8').replace('[Container]\n', '[Container]\nStopTimeout=30\n'));
      const r = await execa(script, [dir], { reject: false, all: true });
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toContain("FAIL podman v4.9.3 (shipped)");
      expect(r.stdout).toContain("unsupported key 'StopTimeout'");
      expect(r.stdout).toContain('OK podman v5.0.0 (shipped)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
