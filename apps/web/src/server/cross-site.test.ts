import { describe, expect, it } from 'vitest';
import { crossOrigin, refuseCrossSiteHandshake, refuseCrossSiteRoute } from './cross-site.ts';

const host = 'berth.example:8443';
const cookie = 'authjs.session-token=abc';

describe('crossOrigin', () => {
  it.each<[string, Record<string, string>, boolean]>([
    ['no Origin (not a browser, or a same-origin GET)', {}, false],
    ['this origin', { origin: `https://${host}` }, false],
    ['another host', { origin: 'http://evil.example' }, true],
    ['another port of this host', { origin: 'https://berth.example:9999' }, true],
    ['Origin: null', { origin: 'null' }, true],
    ['the browser says cross-site', { 'sec-fetch-site': 'cross-site' }, true],
    [
      'cross-site even with a matching Origin',
      { origin: `https://${host}`, 'sec-fetch-site': 'cross-site' },
      true,
    ],
    ['same-origin fetch', { origin: `https://${host}`, 'sec-fetch-site': 'same-origin' }, false],
  ])('%s → %s', (_, headers, expected) => {
    expect(crossOrigin({ host, ...headers })).toBe(expected);
  });
});

describe('refuseCrossSiteRoute', () => {
  const route = (
    method: string,
    url: string,
    headers: Record<string, string>,
  ): ReturnType<typeof refuseCrossSiteRoute> =>
    refuseCrossSiteRoute({ method, url, headers: { host, ...headers } });

  it('lets the console’s own requests through', () => {
    const own = { cookie, origin: `https://${host}`, 'sec-fetch-site': 'same-origin' };
    expect(
      route('POST', '/api/trpc/instances.start', { ...own, 'content-type': 'application/json' }),
    ).toBeUndefined();
    expect(
      route('POST', '/api/instances/p/c1/files?path=/x', {
        ...own,
        'content-type': 'application/octet-stream',
      }),
    ).toBeUndefined();
    // Auth.js's own sign-in form posts are form-encoded.
    expect(
      route('POST', '/api/auth/callback/credentials', {
        ...own,
        'content-type': 'application/x-www-form-urlencoded',
      }),
    ).toBeUndefined();
  });

  it.each([
    ['/api/trpc/instances.delete', 'application/json'],
    ['/api/instances/p/c1/files?path=/etc/x', 'application/octet-stream'],
    ['/api/instances/p/import', 'application/octet-stream'],
    ['/api/auth/signout', 'application/x-www-form-urlencoded'],
    ['/instances', 'text/plain'],
  ])('refuses a cookie-borne cross-site POST to %s', (url, type) => {
    for (const headers of [
      { origin: 'http://evil.example' } as Record<string, string>,
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'null' },
    ]) {
      expect(route('POST', url, { cookie, 'content-type': type, ...headers })).toMatchObject({
        status: 403,
        message: expect.stringContaining('Cross-site POST refused'),
      });
    }
  });

  it.each(['PUT', 'PATCH', 'DELETE'])('refuses a cross-site %s too', (method) => {
    expect(route(method, '/api/trpc/x', { cookie, origin: 'http://evil.example' })?.status).toBe(
      403,
    );
  });

  it('refuses a form or text body on tRPC, even without an Origin', () => {
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
    ]) {
      expect(
        route('POST', '/api/trpc/instances.delete', { cookie, 'content-type': type }),
      ).toMatchObject({
        status: 415,
        message: expect.stringContaining('application/json'),
      });
    }
  });

  it('refuses a form or text body on uploads, even without an Origin', () => {
    expect(
      route('POST', '/api/instances/p/c1/files?path=/x', { cookie, 'content-type': 'text/plain' }),
    ).toMatchObject({ status: 415 });
  });

  it('checks neither reads nor token-only requests', () => {
    const evil = { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' };
    expect(route('GET', '/api/instances/p/c1/files?path=/x', { cookie, ...evil })).toBeUndefined();
    expect(route('HEAD', '/', { cookie, ...evil })).toBeUndefined();
    expect(route('OPTIONS', '/api/trpc/x', { cookie, ...evil })).toBeUndefined();
    expect(
      route('POST', '/api/trpc/x', {
        authorization: 'Bearer berth_x',
        'content-type': 'text/plain',
        ...evil,
      }),
    ).toBeUndefined();
  });
});

describe('refuseCrossSiteHandshake', () => {
  it('refuses a cookie-borne handshake from another site', () => {
    expect(refuseCrossSiteHandshake({ host, cookie, origin: 'http://evil.example' })).toMatch(
      /Cross-site connection refused/,
    );
    expect(
      refuseCrossSiteHandshake({ host, cookie, 'sec-fetch-site': 'cross-site' }),
    ).toBeDefined();
  });

  it('accepts this site, and clients without cookies', () => {
    expect(refuseCrossSiteHandshake({ host, cookie, origin: `https://${host}` })).toBeUndefined();
    expect(refuseCrossSiteHandshake({ host, cookie })).toBeUndefined();
    expect(refuseCrossSiteHandshake({ host, origin: 'http://evil.example' })).toBeUndefined();
  });
});
