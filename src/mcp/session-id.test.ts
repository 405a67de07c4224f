import { randomBytes } from 'node:crypto';
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
