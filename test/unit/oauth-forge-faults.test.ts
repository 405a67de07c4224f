/**
 * Forge faults the real Gitea cannot produce on demand inside one test: a forge that is down at
 * the callback, or when an expired forge token must be refreshed. Uses a stand-in forge client
 * (standinForgeWithOutages) under the real ForgeTokens and the real authorization server routes.
 */
import { describe, expect, it } from 'vitest';
import { exchange, ISSUER, rig, signIn } from '../support/oauth-inprocess.js';

describe('forge outages', () => {
  it('sends temporarily_unavailable with state and iss to the client when the forge is down at the callback', async () => {
    const { app, down } = await rig();
    down.exchange = true;
    const { location } = await signIn(app);
    expect(location.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(location.searchParams.get('state')).toBe('S');
    expect(location.searchParams.get('iss')).toBe(ISSUER);
  });

  it('answers 503 with Retry-After on /mcp while the forge cannot refresh an expired forge token, and recovers after', async () => {
    const { app, down, skip } = await rig();
    const s = await signIn(app);
    const { access_token } = await exchange(app, s);
    const mcp = () => app.request(`${ISSUER}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${access_token}` } });
    expect((await mcp()).status).toBe(200);
    down.refresh = true;
    skip(2 * 3600_000);
    const res = await mcp();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    down.refresh = false;
    expect((await mcp()).status).toBe(200); // the broker grant survived the outage
  });
});
