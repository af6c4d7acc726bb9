import { describe, expect, it } from 'vitest';
import { actionRole, can, visibleProjects, type PolicyUser, type ProjectAction } from './policy.ts';

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
