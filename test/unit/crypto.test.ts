import { describe, expect, it } from 'vitest';
import { pkceS256, randomToken, safeEqual, Sealer, SealError, sha256 } from '../../src/lib/crypto.js';

const k1 = Buffer.alloc(32, 1);
const k2 = Buffer.alloc(32, 2);

describe('crypto helpers', () => {
  it('computes the RFC 7636 Appendix B S256 example', () => {
    expect(pkceS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('makes prefixed random tokens with 256 bits by default', () => {
    const t = randomToken('mcpb_at_');
    expect(t).toMatch(/^mcpb_at_[A-Za-z0-9_-]{43}$/);
    expect(randomToken()).not.toBe(randomToken());
  });

  it('hashes and compares in constant time', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(safeEqual('a', 'a')).toBe(true);
    expect(safeEqual('a', 'ab')).toBe(false);
  });

  it('seals with the first key, opens with any key of the ring, and flags stale boxes', () => {
    const old = new Sealer([k1]);
    const box = old.seal('forge-token', 'person:1');
    expect(box).not.toContain('forge-token');
    const rotated = new Sealer([k2, k1]);
    expect(rotated.open(box, 'person:1')).toBe('forge-token');
    expect(rotated.isStale(box)).toBe(true);
    expect(rotated.isStale(rotated.seal('x', 'a'))).toBe(false);
  });

  it('refuses a box moved to another row (AAD) or tampered with', () => {
    const s = new Sealer([k1]);
    const box = s.seal('forge-token', 'person:1');
    expect(() => s.open(box, 'person:2')).toThrow(SealError);
    const parts = box.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(() => s.open([...parts.slice(0, 3), body.toString('base64url')].join('.'), 'person:1')).toThrow(SealError);
    expect(() => new Sealer([k2]).open(box, 'person:1')).toThrow(/unknown format or key/);
  });
});
