/**
 * @module test/testbed/testbed-build — `scripts/testbed build` fails clearly without a
 * suitable Go toolchain and reuses its cache (Gitea pinned at v1.26.0, go line 1.26.2).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { testbedScript } from '../support/testbed.js';

const scratch = mkdtempSync(join(tmpdir(), 'fjmcp-testbed-build-test.'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** PATH without any Go toolchain directory. */
const pathWithoutGo = (process.env.PATH ?? '').split(':').filter((d) => !/\/go\/bin$|golang/.test(d)).join(':');

describe('scripts/testbed build', () => {
  it('reports the cached pinned Gitea instead of rebuilding it', async () => {
    const r = await execa(testbedScript, ['build'], { reject: false, stdin: 'ignore' });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/gitea v1\.26\.0 cached at /);
    expect(r.stderr).not.toMatch(/go build/);
  });

  it('fails with a clear message when no Go toolchain is installed and nothing is cached', async () => {
    const cache = join(scratch, 'empty-cache');
    const r = await execa(testbedScript, ['build'], {
      reject: false, stdin: 'ignore', env: { XDG_CACHE_HOME: cache, PATH: pathWithoutGo }, extendEnv: true,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error: Go is not installed; it is needed to build Gitea v1\.26\.0/);
  });

  it('fails with a clear message when Go is older than the go line of the pinned go.mod', async () => {
    const bin = join(scratch, 'old-go');
    mkdirSync(bin, { recursive: true });
    const realGo = (await execa('sh', ['-c', 'command -v go'])).stdout.trim();
    // A go that claims to be 1.20.0 and otherwise defers to the real toolchain (module download is cached).
    writeFileSync(join(bin, 'go'), `#!/bin/sh\nif [ "$1 $2" = "env GOVERSION" ]; then echo go1.20.0; exit 0; fi\nexec ${realGo} "$@"\n`);
    chmodSync(join(bin, 'go'), 0o755);
    const r = await execa(testbedScript, ['build'], {
      reject: false, stdin: 'ignore', env: { XDG_CACHE_HOME: join(scratch, 'old-go-cache'), PATH: `${bin}:${pathWithoutGo}` },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error: Go 1\.20\.0 is too old; Gitea v1\.26\.0 needs Go >= 1\.26\.2/);
  });
});
