/**
 * The SSRF guard of client ID metadata document fetches (CIMD §6): only public addresses, https
 * only, checked at connect time so DNS answers cannot smuggle in a private address.
 */
import { describe, expect, it } from 'vitest';
import { guardedFetch, isPublicAddress, SsrfRefusedError } from '../../src/oauth/ssrf-guard.js';

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '192.0.2.1', '::', '::1', 'fe80::1', 'fc00::1', 'fd12:3456::1',
    '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::7f00:1', '2001:db8::1', 'ff02::1', 'not-an-ip',
  ])('refuses %s (loopback, private, link-local, CGNAT, ULA, mapped, documentation, multicast)', (a) => {
    expect(isPublicAddress(a)).toBe(false);
  });

  it.each(['1.1.1.1', '8.8.8.8', '160.79.104.10', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])('accepts the public address %s', (a) => {
    expect(isPublicAddress(a)).toBe(true);
  });
});

describe('guardedFetch', () => {
  it.each(['https://127.0.0.1/doc', 'https://[::1]/doc', 'https://10.0.0.1/doc', 'https://169.254.169.254/latest/meta-data'])(
    'refuses the non-public IP literal in %s before connecting',
    async (url) => {
      await expect(guardedFetch(url)).rejects.toBeInstanceOf(SsrfRefusedError);
    },
  );

  it('refuses plain http', async () => {
    await expect(guardedFetch('http://example.com/doc')).rejects.toBeInstanceOf(SsrfRefusedError);
  });

  it('refuses a host name that resolves to loopback (checked in the socket lookup, so rebinding cannot bypass it)', async () => {
    await expect(guardedFetch('https://localhost/doc')).rejects.toBeInstanceOf(SsrfRefusedError);
  });
});
