import { describe, expect, it } from 'vitest';
import {
  actionRole,
  can,
  isServerAdminProjectKey,
  projectOfUrl,
  reservedProjectKeyChange,
  visibleProjects,
  visibleUsedBy,
  type PolicyUser,
  type ProjectAction,
} from './policy.ts';

function user(roles: Record<string, 'viewer' | 'operator' | 'admin'>, isAdmin = false): PolicyUser {
  return { isAdmin, roles: new Map(Object.entries(roles)) };
}

const actions = Object.keys(actionRole) as ProjectAction[];
const operatorActions: ProjectAction[] = [
  'read',
  'lifecycle',
  'console',
  'exec',
  'files',
  'snapshots',
];

describe('can', () => {
  it('lets a server admin do everything, in any project, and server actions', () => {
    const admin = user({}, true);
    for (const action of actions) expect(can(admin, action, 'anything')).toBe(true);
    expect(can(admin, 'server')).toBe(true);
  });

  it('lets a viewer only read', () => {
    const viewer = user({ p: 'viewer' });
    for (const action of actions) expect(can(viewer, action, 'p')).toBe(action === 'read');
  });

  it('lets an operator run instances but not configure or delete them', () => {
    const operator = user({ p: 'operator' });
    for (const action of actions)
      expect(can(operator, action, 'p')).toBe(operatorActions.includes(action));
  });

  it('lets a project admin do every project action but no server action', () => {
    const projectAdmin = user({ p: 'admin' });
    for (const action of actions) expect(can(projectAdmin, action, 'p')).toBe(true);
    expect(can(projectAdmin, 'server')).toBe(false);
    expect(can(projectAdmin, 'server', 'p')).toBe(false);
  });

  it('grants nothing in a project the user is not a member of', () => {
    const member = user({ p: 'admin' });
    for (const action of actions) expect(can(member, action, 'q')).toBe(false);
  });

  it('lets any signed-in user see networks and storage pools, only server admins change them', () => {
    for (const someone of [user({}), user({ p: 'viewer' }), user({ p: 'admin' })]) {
      expect(can(someone, 'host:read')).toBe(true);
      expect(can(someone, 'host:manage')).toBe(false);
      expect(can(someone, 'host:manage', 'p')).toBe(false);
    }
    expect(can(user({}, true), 'host:manage')).toBe(true);
    expect(can(null, 'host:read')).toBe(false);
  });

  it('denies anonymous users and project actions without a project', () => {
    expect(can(null, 'read', 'p')).toBe(false);
    expect(can(undefined, 'read', 'p')).toBe(false);
    expect(can(user({ p: 'admin' }), 'read')).toBe(false);
  });
});

describe('visibleProjects', () => {
  const all = ['default', 'team-a', 'team-b'];

  it('shows a server admin every project', () => {
    expect(visibleProjects(user({}, true), all)).toEqual(all);
  });

  it('shows a member only the projects with a role, not even the names of others', () => {
    expect(visibleProjects(user({ 'team-b': 'viewer', gone: 'admin' }), all)).toEqual(['team-b']);
  });

  it('shows an anonymous user nothing', () => {
    expect(visibleProjects(null, all)).toEqual([]);
  });
});

describe('visibleUsedBy', () => {
  const urls = [
    '/1.0/instances/c1',
    '/1.0/instances/c2?project=team-a',
    '/1.0/images/abc?project=team-b',
  ];

  it('reads the project of an API URL, default without one', () => {
    expect(urls.map(projectOfUrl)).toEqual(['default', 'team-a', 'team-b']);
    expect(projectOfUrl('/1.0/instances/x?project=a%20b')).toBe('a b');
  });

  it('shows a server admin every user of a network or pool', () => {
    expect(visibleUsedBy(user({}, true), urls)).toEqual(urls);
  });

  it('hides the users in projects a member may not read', () => {
    expect(visibleUsedBy(user({ 'team-a': 'viewer' }), urls)).toEqual([
      '/1.0/instances/c2?project=team-a',
    ]);
    expect(visibleUsedBy(user({}), urls)).toEqual([]);
    expect(visibleUsedBy(null, urls)).toEqual([]);
  });
});

describe('reservedProjectKeyChange', () => {
  const projectAdmin = user({ p: 'admin' });
  const restricted = {
    restricted: 'true',
    'restricted.containers.privilege': 'unprivileged',
    'limits.instances': '5',
    'features.images': 'true',
    'user.team': 'blue',
  };

  it('reserves restricted, restricted.*, limits.* and features.* to server admins', () => {
    for (const key of [
      'restricted',
      'restricted.devices.disk',
      'restricted.devices.disk.paths',
      'limits.memory',
      'features.profiles',
    ])
      expect(isServerAdminProjectKey(key)).toBe(true);
    for (const key of ['user.team', 'restrictedx', 'limitsx.cpu', 'description'])
      expect(isServerAdminProjectKey(key)).toBe(false);
  });

  it('refuses a project admin lifting the restriction, naming the key', () => {
    expect(
      reservedProjectKeyChange(projectAdmin, restricted, { ...restricted, restricted: 'false' }),
    ).toBe('restricted');
    expect(
      reservedProjectKeyChange(projectAdmin, restricted, {
        ...restricted,
        'restricted.containers.privilege': 'allow',
      }),
    ).toBe('restricted.containers.privilege');
  });

  it('refuses setting a reserved key that was unset, and removing one (PUT without it)', () => {
    expect(reservedProjectKeyChange(projectAdmin, {}, { 'restricted.devices.disk': 'allow' })).toBe(
      'restricted.devices.disk',
    );
    const { restricted: _dropped, ...withoutRestricted } = restricted;
    expect(reservedProjectKeyChange(projectAdmin, restricted, withoutRestricted)).toBe(
      'restricted',
    );
    expect(
      reservedProjectKeyChange(projectAdmin, restricted, { ...restricted, 'limits.instances': '' }),
    ).toBe('limits.instances');
    expect(
      reservedProjectKeyChange(projectAdmin, restricted, {
        ...restricted,
        'features.images': 'false',
      }),
    ).toBe('features.images');
  });

  it('lets a project admin resend reserved keys unchanged and change the others', () => {
    expect(reservedProjectKeyChange(projectAdmin, restricted, { ...restricted })).toBeNull();
    // "" is the default, as an absent key is.
    expect(reservedProjectKeyChange(projectAdmin, {}, { 'limits.cpu': '' })).toBeNull();
    expect(
      reservedProjectKeyChange(projectAdmin, restricted, {
        ...restricted,
        'user.team': 'red',
        'user.new': 'x',
      }),
    ).toBeNull();
  });

  it('lets a server admin change any key', () => {
    expect(reservedProjectKeyChange(user({}, true), restricted, {})).toBeNull();
  });
});
