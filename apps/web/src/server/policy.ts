// The one policy module. `can()` is the decision; `authorize()` is the one
// guard every tRPC procedure, REST route, route handler and socket.io
// connection goes through. Nothing is authorised in the browser alone.
//
// Roles are per project and cumulative: an operator may do what a viewer
// may, an admin what an operator may. Server admins may do everything,
// including server-wide actions no project role grants.

export const projectRoles = ['viewer', 'operator', 'admin'] as const;
export type ProjectRole = (typeof projectRoles)[number];

/** What a project role allows, by the lowest role that allows it. */
export const actionRole = {
  read: 'viewer',
  lifecycle: 'operator',
  console: 'operator',
  exec: 'operator',
  files: 'operator',
  snapshots: 'operator',
  /** Instance and project configuration; also creating instances and building images. */
  config: 'admin',
  profiles: 'admin',
  members: 'admin',
  /** Reading the project's audit log. */
  audit: 'admin',
  delete: 'admin',
} as const satisfies Record<string, ProjectRole>;
export type ProjectAction = keyof typeof actionRole;

/**
 * Actions outside any project, by who may do them. `server` (users, projects,
 * ...) is for server admins only. Networks and storage pools are the host's,
 * shared by every project: any signed-in user may see them and their state
 * (LXD lets project members list the networks their projects can use), only
 * server admins create, change or delete them.
 */
export const serverActionAllows = {
  server: 'server-admin',
  'host:read': 'any-user',
  'host:manage': 'server-admin',
} as const satisfies Record<string, 'server-admin' | 'any-user'>;
export type ServerAction = keyof typeof serverActionAllows;
export type Action = ProjectAction | ServerAction;

function isServerAction(action: Action): action is ServerAction {
  return Object.hasOwn(serverActionAllows, action);
}

export interface PolicyUser {
  isAdmin: boolean;
  /** Project name → role. */
  roles: ReadonlyMap<string, ProjectRole>;
}

/**
 * A caller on the local unix socket (`<data dir>/unix.socket`, root's, mode
 * 0660) is the server administrator, as LXD treats its own unix socket: only
 * root (or the socket's group) can open it, and root owns the host anyway.
 */
export const localSocketPolicy: PolicyUser = { isAdmin: true, roles: new Map() };

export function isProjectRole(value: string): value is ProjectRole {
  return (projectRoles as readonly string[]).includes(value);
}

function rank(role: ProjectRole): number {
  return projectRoles.indexOf(role);
}

/** May `user` do `action` in `project`? Server actions ignore `project`. */
export function can(
  user: PolicyUser | null | undefined,
  action: Action,
  project?: string,
): boolean {
  if (!user) return false;
  if (user.isAdmin) return true;
  if (isServerAction(action)) return serverActionAllows[action] === 'any-user';
  if (project === undefined) return false;
  const role = user.roles.get(project);
  if (!role) return false;
  return rank(role) >= rank(actionRole[action]);
}

/**
 * What a caller asks for: a policy action, or only to be signed in — `user`
 * (with the required password change done) or `account` (even before it:
 * changing the password, seeing who one is).
 */
export type Access = Action | 'user' | 'account';

/** Whoever authorize() judges: the policy's view of a user, and whether a new password is due. */
export interface Principal extends PolicyUser {
  mustChangePassword: boolean;
}

/** How authorize() refuses; error-codes.ts maps the code for every transport. */
export type AccessCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND';

/** A refusal of authorize(). */
export class AccessError extends Error {
  override readonly name = 'AccessError';
  constructor(
    readonly code: AccessCode,
    message: string,
    /** The words LXD clients get (REST), where LXD's differ from the console's. */
    readonly lxdMessage: string = message,
  ) {
    super(message);
  }
}

/**
 * THE access path of every transport (tRPC, REST over the network and the
 * unix socket, socket.io, the /api route handlers): `principal` may do
 * `access`, in `project` for a project action, or the refusal is thrown.
 * No principal is UNAUTHORIZED; a password change still due is FORBIDDEN
 * for all but `account`; a project the principal may not read is
 * NOT_FOUND (its name does not leak); a role too low is FORBIDDEN.
 */
export function authorize<P extends Principal>(
  principal: P | null | undefined,
  access: ServerAction | 'user' | 'account',
): P;
export function authorize<P extends Principal>(
  principal: P | null | undefined,
  access: Access,
  project: string,
): P;
export function authorize<P extends Principal>(
  principal: P | null | undefined,
  access: Access,
  project?: string,
): P {
  if (!principal) throw new AccessError('UNAUTHORIZED', 'Sign in first', 'Not authorized');
  if (access === 'account') return principal;
  if (principal.mustChangePassword)
    throw new AccessError(
      'FORBIDDEN',
      'Change your password first',
      'Change your password first (in the web console)',
    );
  if (access === 'user') return principal;
  if (isServerAction(access)) {
    if (!can(principal, access))
      throw new AccessError('FORBIDDEN', 'Only server administrators may do this');
    return principal;
  }
  if (project === undefined) throw new Error(`authorize: "${access}" needs a project`);
  if (!can(principal, 'read', project))
    throw new AccessError('NOT_FOUND', `Project "${project}" not found`, 'Project not found');
  if (!can(principal, access, project))
    throw new AccessError(
      'FORBIDDEN',
      `Your role in project "${project}" does not allow ${access}`,
    );
  return principal;
}

/** The projects `user` may see: all of `all` for server admins, else those with a role. */
export function visibleProjects(
  user: PolicyUser | null | undefined,
  all: readonly string[],
): string[] {
  if (!user) return [];
  if (user.isAdmin) return [...all];
  return all.filter((name) => user.roles.has(name));
}

/** The project an API URL's object lives in (`?project=`, else `default`), as LXD writes `used_by`. */
export function projectOfUrl(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return 'default';
  return new URLSearchParams(url.slice(query + 1)).get('project') ?? 'default';
}

/**
 * The `used_by` entries of a server-wide object (network, storage pool) that
 * `user` may know of: those in projects the user may read. The host's
 * resources are visible to all, the names of other projects' instances are not.
 */
export function visibleUsedBy(
  user: PolicyUser | null | undefined,
  urls: readonly string[],
): string[] {
  return urls.filter((url) => can(user, 'read', projectOfUrl(url)));
}

/**
 * Project keys only a server administrator may change, as LXD reserves them:
 * `restricted` and every `restricted.*` key (what the project's instances may
 * do to the host), `limits.*` (how much of the host they may take) and
 * `features.*` (what the project shares with `default`). A project admin
 * lifting any of them would hand the project's members the host.
 */
export function isServerAdminProjectKey(key: string): boolean {
  return (
    key === 'restricted' ||
    key.startsWith('restricted.') ||
    key.startsWith('limits.') ||
    key.startsWith('features.')
  );
}

/**
 * The first reserved project key (isServerAdminProjectKey) that going from
 * `current` to `next` config would set, change or remove, when `user` is not
 * a server administrator; null when the change is allowed. Keys sent again
 * with their current value are no change, so a project admin may resend the
 * whole config (PUT) with only the description or `user.*` keys edited. An
 * empty value is the key's default, as an absent key is (LXD unsets a key
 * set to ""), so the two are the same value here.
 */
export function reservedProjectKeyChange(
  user: PolicyUser | null | undefined,
  current: Readonly<Record<string, string>>,
  next: Readonly<Record<string, string>>,
): string | null {
  if (user?.isAdmin) return null;
  const keys = new Set([...Object.keys(current), ...Object.keys(next)]);
  for (const key of [...keys].sort()) {
    if (isServerAdminProjectKey(key) && (current[key] ?? '') !== (next[key] ?? '')) return key;
  }
  return null;
}

/** Why reservedProjectKeyChange's key was refused (the field is `config["<key>"]`). */
export function reservedProjectKeyReason(key: string): string {
  return `only server administrators may change "${key}"`;
}
