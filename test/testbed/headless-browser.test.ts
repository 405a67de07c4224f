/**
 * @module test/testbed/headless-browser — the test driver's cookie jar (RFC 6265, RFC 6265bis
 * prefixes) and HTML form reader behave like a browser where our tests rely on it, and its
 * redirect following stops where asked.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, findForm, formData, giteaLogin, HeadlessBrowser, parseForms } from '../support/headless-browser.js';
import { sharedTestbed } from '../support/testbed.js';

describe('CookieJar (RFC 6265 §5.3-5.4)', () => {
  it('keeps cookies per host and port', () => {
    const jar = new CookieJar();
    jar.setCookie('http://127.0.0.1:3000/', 'a=1');
    expect(jar.header('http://127.0.0.1:3000/x')).toBe('a=1');
    expect(jar.header('http://127.0.0.1:3001/x')).toBeUndefined();
    expect(jar.header('http://localhost:3000/x')).toBeUndefined();
  });

  it('honours Path and the default path of the setting URL', () => {
    const jar = new CookieJar();
    jar.setCookie('http://127.0.0.1:1/a/b/page', 'def=1');
    jar.setCookie('http://127.0.0.1:1/', 'p=2; Path=/oauth');
    expect(jar.header('http://127.0.0.1:1/a/b/other')).toBe('def=1');
    expect(jar.header('http://127.0.0.1:1/a')).toBeUndefined();
    expect(jar.header('http://127.0.0.1:1/oauth/cb')).toBe('p=2');
    expect(jar.header('http://127.0.0.1:1/oauthx')).toBeUndefined();
  });

  it('accepts and sends Secure cookies over http only to loopback hosts', () => {
    const jar = new CookieJar();
    expect(jar.setCookie('http://127.0.0.1:1/', 's=1; Secure; HttpOnly')).toBe(true);
    expect(jar.header('http://127.0.0.1:1/')).toBe('s=1');
    expect(jar.setCookie('http://example.test/', 's=1; Secure')).toBe(false);
    expect(jar.setCookie('https://example.test/', 's=1; Secure')).toBe(true);
    expect(jar.header('http://example.test/')).toBeUndefined();
    expect(jar.header('https://example.test/')).toBe('s=1');
  });

  it('enforces the __Host- and __Secure- prefixes (RFC 6265bis §4.1.3)', () => {
    const jar = new CookieJar();
    expect(jar.setCookie('http://127.0.0.1:1/', '__Host-a=1; Path=/')).toBe(false);
    expect(jar.setCookie('http://127.0.0.1:1/', '__Host-a=1; Secure; Path=/x')).toBe(false);
    expect(jar.setCookie('http://127.0.0.1:1/', '__Host-a=1; Secure; Path=/; Domain=127.0.0.1')).toBe(false);
    expect(jar.setCookie('http://127.0.0.1:1/', '__Secure-b=1')).toBe(false);
    expect(jar.setCookie('http://127.0.0.1:1/', '__Host-a=1; Secure; Path=/')).toBe(true);
    expect(jar.header('http://127.0.0.1:1/deep/path')).toBe('__Host-a=1');
  });

  it('deletes a cookie on Max-Age=0 or an Expires in the past, and replaces by name+path', () => {
    const jar = new CookieJar();
    jar.setCookie('http://127.0.0.1:1/', 'a=1; Path=/');
    jar.setCookie('http://127.0.0.1:1/', 'b=1; Path=/');
    jar.setCookie('http://127.0.0.1:1/', 'a=2; Path=/');
    expect(jar.get('http://127.0.0.1:1/', 'a')).toBe('2');
    jar.setCookie('http://127.0.0.1:1/', 'a=; Path=/; Max-Age=0');
    jar.setCookie('http://127.0.0.1:1/', 'b=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    expect(jar.header('http://127.0.0.1:1/')).toBeUndefined();
  });

  it('sends longer paths first', () => {
    const jar = new CookieJar();
    jar.setCookie('http://127.0.0.1:1/', 'x=root; Path=/');
    jar.setCookie('http://127.0.0.1:1/', 'x=deep; Path=/a');
    expect(jar.header('http://127.0.0.1:1/a/b')).toBe('x=deep; x=root');
  });
});

describe('HTML form reader', () => {
  const html = `<form method="post" action="/login/oauth/grant?x=1&amp;y=2">
    <input type="hidden" name="client_id" value="c&amp;1">
    <input type='hidden' name=state value=s1>
    <input type="checkbox" name="remember"><input type="checkbox" name="keep" checked>
    <input name="disabled" value="no" disabled>
    <select name="lang"><option value="de">de</option><option value="en" selected>en</option></select>
    <textarea name="note">
hi &lt;there&gt;</textarea>
    <button type="submit" name="granted" value="true">Authorize <b>App</b></button>
    <button type="button">noop</button>
    <input type="submit" name="granted" value="false">
  </form><form action=""><input name="q" value="1"></form>`;

  it('reads action, method, successful controls and submit buttons like a browser', () => {
    const [grant, search] = parseForms(html, 'http://127.0.0.1:1/login/oauth/authorize?a=b');
    expect(grant).toMatchObject({
      action: 'http://127.0.0.1:1/login/oauth/grant?x=1&y=2',
      method: 'POST',
      fields: [['client_id', 'c&1'], ['state', 's1'], ['keep', 'on'], ['lang', 'en'], ['note', 'hi <there>']],
    });
    expect(grant!.submitters.map((s) => [s.name, s.value, s.text])).toEqual([['granted', 'true', 'Authorize App'], ['granted', 'false', 'false']]);
    expect(search).toMatchObject({ action: 'http://127.0.0.1:1/login/oauth/authorize?a=b', method: 'GET', fields: [['q', '1']] });
  });

  it('applies overrides (replace, add, remove) and the chosen submitter', () => {
    const form = findForm(html, 'http://127.0.0.1:1/', '/login/oauth/grant');
    const data = formData(form, { state: 'other', extra: 'e', note: undefined }, form.submitters[1]);
    expect([...data]).toEqual([['client_id', 'c&1'], ['keep', 'on'], ['lang', 'en'], ['state', 'other'], ['extra', 'e'], ['granted', 'false']]);
    expect(() => findForm(html, 'http://127.0.0.1:1/', '/nowhere')).toThrow(/no form matching \/nowhere/);
  });
});

describe('HeadlessBrowser.follow', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} origin=${req.headers.origin ?? '-'} cookie=${req.headers.cookie ?? '-'}`);
      if (req.url === '/start') res.writeHead(303, { location: '/set', 'set-cookie': 'sid=1; Path=/; HttpOnly' }).end();
      else if (req.url === '/set') res.writeHead(302, { location: 'http://127.0.0.1:9/outside?code=x' }).end();
      else if (req.url === '/keep') res.writeHead(307, { location: '/echo' }).end();
      else if (req.url === '/echo') req.pipe(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('follows redirects with cookies, sends no Origin, and stops before fetching a target stopWhen rejects', async () => {
    const b = new HeadlessBrowser();
    const page = await b.follow(`${base}/start`, { stopWhen: (u) => !u.startsWith(base) });
    expect(page.status).toBe(302);
    expect(page.location).toBe('http://127.0.0.1:9/outside?code=x');
    expect(seen.slice(-2)).toEqual(['GET /start origin=- cookie=-', 'GET /set origin=- cookie=sid=1']);
  });

  it('turns a POST into GET after 303 but keeps method and body through 307', async () => {
    const b = new HeadlessBrowser();
    const page = await b.follow(`${base}/keep`, { method: 'POST', body: new URLSearchParams({ a: '1' }) });
    expect(page.status).toBe(200);
    expect(page.body).toBe('a=1');
    expect(seen.at(-1)).toMatch(/^POST \/echo /);
  });
});

describe('giteaLogin (Gitea 1.26 login form, no _csrf, no Origin)', () => {
  it('signs a user in so that the session cookie opens pages that need a login', async () => {
    const tb = sharedTestbed();
    const anonymous = await new HeadlessBrowser().request(`${tb.giteaUrl}/user/settings`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.location).toMatch(/\/user\/login/);
    const jar = new CookieJar();
    await giteaLogin(jar, tb.giteaUrl, tb.users.bob);
    const settings = await new HeadlessBrowser({ jar }).request(`${tb.giteaUrl}/user/settings`);
    expect(settings.status).toBe(200);
    expect(settings.body).toContain('bob@example.test');
  });

  it('throws, naming the user, when Gitea rejects the password', async () => {
    const tb = sharedTestbed();
    await expect(giteaLogin(new HeadlessBrowser(), tb.giteaUrl, { login: 'bob', password: 'wrong-password' })).rejects.toThrow(/Gitea login as bob failed/);
  });
});
