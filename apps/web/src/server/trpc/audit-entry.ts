// What the audit log records for one tRPC mutation: who, `router.procedure`,
// the project, the object (type and name, read from the input) and the
// result. init.ts's middleware calls `auditEntry` once per mutation, for every
// router, so no router records anything itself.
import type { TRPCError } from '@trpc/server';
import type { AuditInput } from '@berth/db';
import { errorData } from './error-format.ts';

export interface AuditSink {
  record(entry: AuditInput): Promise<void>;
}

/**
 * Filled in while a mutation runs, for what the raw input cannot tell:
 * projectProcedure sets the parsed project (its default included); a router
 * may name the object itself.
 */
export interface AuditScope {
  project?: string | null;
  objectType?: string;
  objectName?: string | null;
}

export interface AuditActor {
  id: number;
  username: string;
  via?: 'session' | 'token';
  tokenId?: number;
}

/** Router name → the type of object its procedures act on. */
const objectTypes: Record<string, string> = {
  account: 'user',
  audit: 'audit',
  backups: 'backup',
  console: 'instance',
  files: 'file',
  images: 'image',
  instances: 'instance',
  members: 'member',
  operations: 'operation',
  profiles: 'profile',
  projects: 'project',
  snapshots: 'snapshot',
  tokens: 'token',
  users: 'user',
};

/** Input keys never written to the log (passwords, token secrets). */
const secretKey = /pass|secret|token|^current$|^next$/i;
/** Input keys the entry has its own columns for. */
const coveredKey = new Set(['project', 'name', 'username']);
const maxDetail = 1000;

type Fields = Record<string, unknown>;

function asFields(value: unknown): Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Fields)
    : {};
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function redact(value: unknown, depth = 0): unknown {
  if (depth > 4) return '…';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  const out: Fields = {};
  for (const [key, v] of Object.entries(value)) {
    if (!secretKey.test(key)) out[key] = redact(v, depth + 1);
  }
  return out;
}

/** The input minus what has its own column and minus secrets, as short JSON. */
function detailOf(input: Fields, actor: AuditActor): string | null {
  const rest: Fields = {};
  for (const [key, value] of Object.entries(input)) {
    if (!coveredKey.has(key) && !secretKey.test(key)) rest[key] = redact(value);
  }
  if (actor.via === 'token') rest.via = `token #${actor.tokenId ?? '?'}`;
  if (Object.keys(rest).length === 0) return null;
  const json = JSON.stringify(rest);
  return json.length > maxDetail ? `${json.slice(0, maxDetail - 1)}…` : json;
}

function objectNameOf(router: string, type: string, input: Fields, actor: AuditActor) {
  if (router === 'account') return actor.username;
  const name = str(input.name);
  const nested = str(asFields(input[type]).name);
  const snapshot = str(input.snapshot) ?? str(asFields(input.snapshot).name);
  if (name && snapshot) return `${name}/${snapshot}`;
  return (
    name ??
    nested ??
    str(input.username) ??
    str(input.fingerprint) ??
    str(input.alias) ??
    str(input.id) ??
    (router === 'projects' ? str(input.project) : undefined) ??
    null
  );
}

/** "success", or "failure: <reason>" naming the field when input validation failed. */
export function resultOf(error: TRPCError | undefined): string {
  if (!error) return 'success';
  const { fieldErrors } = errorData(error);
  const first = fieldErrors ? Object.entries(fieldErrors)[0] : undefined;
  return `failure: ${first ? `${first[0]}: ${first[1]}` : error.message}`;
}

export function auditEntry(args: {
  path: string;
  rawInput: unknown;
  actor: AuditActor;
  scope: AuditScope;
  error: TRPCError | undefined;
}): AuditInput {
  const { path, actor, scope, error } = args;
  const input = asFields(args.rawInput);
  const router = path.split('.')[0] ?? path;
  const objectType = scope.objectType ?? objectTypes[router] ?? router.replace(/s$/, '');
  const objectName =
    scope.objectName !== undefined
      ? scope.objectName
      : objectNameOf(router, objectType, input, actor);
  const project =
    scope.project !== undefined
      ? scope.project
      : router === 'projects'
        ? (str(input.name) ?? str(input.project) ?? null)
        : (str(input.project) ?? null);
  return {
    userId: actor.id,
    actor: actor.username,
    action: path,
    project,
    objectType,
    objectName,
    result: resultOf(error),
    detail: detailOf(input, actor),
  };
}
