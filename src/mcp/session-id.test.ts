import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSessionIdMinter } from './session-id.js';

describe('session ids bound to a person', () => {
  const key = randomBytes(32);
  it('recognises an id minted for the same person, also by a new minter with the same key (restart)', () => {
    const id = createSessionIdMinter(key).mint('42');
    expect(id).toMatch(/^[\x21-\x7e]+$/); // visible ASCII (MCP basic/transports §session-management)
    expect(createSessionIdMinter(key).belongsTo(id, '42')).toBe(true);
  });
  it('rejects the id for another person, under another key, or when tampered with', () => {
    const m = createSessionIdMinter(key);
    const id = m.mint('42');
    expect(m.belongsTo(id, '43')).toBe(false);
    expect(createSessionIdMinter(randomBytes(32)).belongsTo(id, '42')).toBe(false);
    expect(m.belongsTo(`${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`, '42')).toBe(false);
    expect(m.belongsTo('garbage', '42')).toBe(false);
  });
});

describe('session ids carry the client capabilities the broker routes by', () => {
  const key = randomBytes(32);
  it('gives a re-attached session back what its client declared in initialize', () => {
    const caps = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true }, experimental: { x: {} } };
    const id = createSessionIdMinter(key).mint('42', caps);
    const fresh = createSessionIdMinter(key); // after a restart
    expect(fresh.belongsTo(id, '42')).toBe(true);
    expect(fresh.capabilities(id)).toEqual({ sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } });
    expect(fresh.capabilities(createSessionIdMinter(key).mint('42', { roots: {} }))).toEqual({ roots: {} });
    expect(fresh.capabilities(createSessionIdMinter(key).mint('42'))).toEqual({});
  });
  it('refuses an id whose capabilities were changed, and still accepts the older form without them', () => {
    const m = createSessionIdMinter(key);
    const id = m.mint('42', { roots: {} });
    const [random, caps, mac] = id.split('.');
    expect(caps).not.toBe('7z');
    expect(m.belongsTo(`${random}.7z.${mac}`, '42')).toBe(false);
    const older = `${random}.${createHmacOld(key, '42', random!)}`;
    expect(m.belongsTo(older, '42')).toBe(true);
    expect(m.capabilities(older)).toEqual({});
  });
});

/** An id of the first form (`<random>.<mac>`), as minted before capabilities were carried. */
function createHmacOld(secret: Buffer, personId: string, random: string): string {
  const k = createHmac('sha256', secret).update('fjmcp mcp-session-id v1').digest();
  return createHmac('sha256', k).update(`${personId}.${random}`).digest('base64url').slice(0, 22);
}
