// What every /1.0 route gets: the parsed request, the engine, the user, and
// the one access path (server/policy.ts's authorize) as `allow`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '@berth/engine';
import type { z } from 'zod';
import type { LiveConnections } from '../server/live-connections.ts';
import { authorize, visibleProjects, type Action } from '../server/policy.ts';
import type { RestUser } from './auth.ts';
import { jsonBodyLimit, parseJson, readBody, validate } from './body.ts';
import type { OperationSockets } from './operation-sockets.ts';
import type { CommonQuery } from './query.ts';

/** The network listener: `host:port` and, when served over TLS, its certificate (PEM). */
export interface ServerListener {
  addresses: string[];
  certificate: string;
  /** SHA-256, lower-case hex, as LXD shows it. */
  fingerprint: string;
}

export interface RestServices {
  engine: Engine;
  /** Where recorded exec output is kept. */
  dataDir: string;
  serverName: string;
  listener: ServerListener;
  /** Running websocket operations (exec), for their channels' upgrades. */
  sockets: OperationSockets;
  /** Open websockets and event streams by principal, closed when it is revoked. */
  connections: LiveConnections;
}

/** The user, or authorize's refusal: 401, or 403 while the password must be changed first. */
export function requireUser(user: RestUser | null): RestUser {
  return authorize(user, 'user');
}

export class RestContext {
  #raw: Promise<Buffer> | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
    readonly query: CommonQuery,
    readonly services: RestServices,
    readonly user: RestUser | null,
  ) {}

  get engine(): Engine {
    return this.services.engine;
  }

  get project(): string {
    return this.query.project;
  }

  /** The user, or 401. */
  requireUser(): RestUser {
    return requireUser(this.user);
  }

  /**
   * May the user do `action` in the request's project (or `project`)?
   * authorize() answers: a project the user may not see is "Project not
   * found" (its name does not leak); a role too low is 403.
   */
  allow(action: Action, project: string = this.project): RestUser {
    return authorize(this.user, action, project);
  }

  /** The names of the projects the user may see (all of them for server admins). */
  async visibleProjects(): Promise<string[]> {
    return visibleProjects(this.requireUser(), await this.engine.projects.names());
  }

  rawBody(limit = jsonBodyLimit): Promise<Buffer> {
    this.#raw ??= readBody(this.req, limit);
    return this.#raw;
  }

  async json(): Promise<unknown> {
    return parseJson(await this.rawBody());
  }

  /** The JSON body validated with an engine schema (400 naming the field). */
  async body<S extends z.ZodType>(schema: S): Promise<z.output<S>> {
    return validate(schema, await this.json());
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }
}
