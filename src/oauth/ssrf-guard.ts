/**
 * @module oauth/ssrf-guard
 * Outbound fetches of client ID metadata documents may only reach public internet addresses.
 * {@link isPublicAddress} classifies an IP; {@link guardedFetch} is a `fetch` for https URLs that
 * checks every address DNS returns *at connect time* (the socket's `lookup` hook), so a DNS
 * rebinding between check and connect is impossible, refuses IP literals that are not public,
 * and never follows redirects.
 * @see https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/ §6 (SSRF)
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { Readable } from 'node:stream';

/** Thrown when a URL or the address it resolves to is not allowed. */
export class SsrfRefusedError extends Error {
  override name = 'SsrfRefusedError';
}

// Two lists: Node's BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too.
const blocked4 = new BlockList();
const blocked6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 127], // :: and ::1
  ['::ffff:0:0', 96], // IPv4-mapped: blocked outright rather than re-classified
  ['64:ff9b::', 96], ['64:ff9b:1::', 48], // NAT64
  ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['2002::', 16], // discard, IETF special, documentation, 6to4
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) blocked6.addSubnet(net, prefix, 'ipv6');

/** True only for unicast addresses on the public internet (not private, loopback, link-local, CGNAT, ULA, …). */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !blocked4.check(address, 'ipv4') : !blocked6.check(address, 'ipv6');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for sockets that fails unless every resolved address is public. */
function publicOnlyLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (addresses.length === 0 || bad) {
      return callback(Object.assign(new SsrfRefusedError(`${hostname} resolves to a non-public address`), { code: 'ESSRF' }), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

/**
 * `fetch` for client ID metadata documents: GET over https only, to public addresses only,
 * redirects returned as-is (never followed), aborted by `init.signal`.
 * @throws {SsrfRefusedError} for a non-https URL or a non-public address; other errors on network failure.
 */
export const guardedFetch: typeof fetch = (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  if (url.protocol !== 'https:') return Promise.reject(new SsrfRefusedError('only https URLs may be fetched'));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !isPublicAddress(host)) return Promise.reject(new SsrfRefusedError(`${host} is not a public address`));
  return new Promise<Response>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json', 'user-agent': 'fjmcp-broker (client ID metadata document fetch)' },
        lookup: publicOnlyLookup as never,
        signal: init?.signal ?? undefined,
      },
      (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) for (const x of v) headers.append(k, x);
          else if (v !== undefined) headers.set(k, v);
        }
        const status = res.statusCode ?? 502;
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, headers }));
      },
    );
    req.on('error', (err) => reject((err as { code?: string }).code === 'ESSRF' ? new SsrfRefusedError(err.message) : err));
    req.end();
  });
};
