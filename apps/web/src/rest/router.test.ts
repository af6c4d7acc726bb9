import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InstancesPost } from '@berth/engine/schemas';
import { RestError } from './envelope.ts';
import { Router } from './router.ts';
import { parseCommonQuery } from './query.ts';
import { fieldOf, parseJson, validate } from './body.ts';
import { crossSiteWrite } from './auth.ts';
import { groupOperations, parseEventTypes } from './lxd-shapes.ts';

const router = new Router<null>()
  .add('GET', '/1.0', () => 'root')
  .add('GET', '/1.0/images/aliases', () => 'aliases')
  .add('GET', '/1.0/images/aliases/:alias', () => 'alias')
  .add('GET', '/1.0/images/:fp', () => 'image')
  .add('GET', '/1.0/instances/:name/snapshots/:snap', () => 'snap')
  .add('DELETE', '/1.0/instances/:name', () => 'delete');

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof RestError ? error.status : -1;
  }
  return undefined;
}

describe('the router', () => {
  it('matches literal paths before parameters, in order', () => {
    expect(router.match('GET', '/1.0').route.pattern).toBe('/1.0');
    expect(router.match('GET', '/1.0/').route.pattern).toBe('/1.0');
    expect(router.match('GET', '/1.0/images/aliases').route.pattern).toBe('/1.0/images/aliases');
    expect(router.match('GET', '/1.0/images/abc').params).toEqual({ fp: 'abc' });
  });

  it('decodes parameters after splitting (an alias may hold "/")', () => {
    expect(router.match('GET', '/1.0/images/aliases/debian%2F12').params).toEqual({
      alias: 'debian/12',
    });
    expect(router.match('GET', '/1.0/instances/c1/snapshots/snap0').params).toEqual({
      name: 'c1',
      snap: 'snap0',
    });
  });

  it('answers 404 for unknown paths and 405 for known paths with another method', () => {
    expect(statusOf(() => router.match('GET', '/1.0/nothing'))).toBe(404);
    expect(statusOf(() => router.match('POST', '/1.0/images/abc'))).toBe(405);
    expect(statusOf(() => router.match('GET', '/1.0/images/%E0%A4%A'))).toBe(404);
  });

  it('lists its routes in matching order', () => {
    expect(router.routes().map((r) => `${r.method} ${r.pattern}`)).toEqual([
      'GET /1.0',
      'GET /1.0/images/aliases',
      'GET /1.0/images/aliases/:alias',
      'GET /1.0/images/:fp',
      'GET /1.0/instances/:name/snapshots/:snap',
      'DELETE /1.0/instances/:name',
    ]);
  });
});

describe('common query parameters', () => {
  it('defaults and clamps recursion as LXD does', () => {
    expect(parseCommonQuery(new URLSearchParams(''))).toEqual({
      project: 'default',
      recursion: 0,
      filter: undefined,
      allProjects: false,
    });
    const q = parseCommonQuery(
      new URLSearchParams('project=p1&recursion=5&filter=status eq Running&all-projects=true'),
    );
    expect(q).toEqual({
      project: 'p1',
      recursion: 2,
      filter: 'status eq Running',
      allProjects: true,
    });
  });

  it('refuses a bad project name or recursion with 400', () => {
    expect(statusOf(() => parseCommonQuery(new URLSearchParams('project=../x')))).toBe(400);
    expect(statusOf(() => parseCommonQuery(new URLSearchParams('recursion=x')))).toBe(400);
  });
});

describe('bodies', () => {
  it('names the field of a bad body', () => {
    expect(() => validate(InstancesPost, { name: 'c1', config: { 'limits.cpu': 2 } })).toThrow(
      /^Invalid request body: config\.limits\.cpu: /,
    );
    expect(() => validate(z.object({ command: z.array(z.string()) }), { command: [1] })).toThrow(
      /command\[0\]/,
    );
    expect(fieldOf([])).toBe('body');
  });

  it('treats an empty body as {} and bad JSON as 400', () => {
    expect(parseJson(Buffer.from(''))).toEqual({});
    expect(statusOf(() => parseJson(Buffer.from('{')))).toBe(400);
  });
});

describe('cross-site writes with a session cookie', () => {
  it('are refused; tokens and reads pass', () => {
    const h = { host: 'berth:8443', origin: 'https://evil.example' };
    expect(crossSiteWrite('POST', h, 'session')).toBe(true);
    expect(crossSiteWrite('POST', { ...h, origin: 'https://berth:8443' }, 'session')).toBe(false);
    expect(crossSiteWrite('GET', h, 'session')).toBe(false);
    expect(crossSiteWrite('POST', h, 'token')).toBe(false);
  });
});

describe('LXD shapes', () => {
  const op = (id: string, status: string) =>
    ({ id, status }) as unknown as Parameters<typeof groupOperations>[0][number];

  it('groups operations by lower-case status (URLs at recursion 0, objects at 1)', () => {
    const ops = [op('a', 'Running'), op('b', 'Success'), op('c', 'Success')];
    expect(groupOperations(ops, 0)).toEqual({
      running: ['/1.0/operations/a'],
      success: ['/1.0/operations/b', '/1.0/operations/c'],
    });
    expect(groupOperations(ops, 1).success).toEqual([ops[1], ops[2]]);
    expect(groupOperations([], 1)).toEqual({});
  });

  it('parses event types: all by default, 400 for an unknown one', () => {
    expect(parseEventTypes(null)).toEqual(['lifecycle', 'operation', 'logging']);
    expect(parseEventTypes('lifecycle, operation')).toEqual(['lifecycle', 'operation']);
    expect(statusOf(() => parseEventTypes('lifecycle,bogus'))).toBe(400);
  });

  it('keeps logging events for server admins, as LXD does', () => {
    expect(parseEventTypes(null, false)).toEqual(['lifecycle', 'operation']);
    expect(parseEventTypes('operation,operation', false)).toEqual(['operation']);
    expect(statusOf(() => parseEventTypes('logging', false))).toBe(403);
    expect(parseEventTypes('logging', true)).toEqual(['logging']);
  });
});
