// A small pure router for /1.0: patterns like `/1.0/instances/:name/files`,
// matched on raw path segments which are percent-decoded after splitting, so
// names may contain an encoded "/" (image aliases such as `debian/12`).
import { RestError } from './envelope.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Route<C> {
  method: Method;
  pattern: string;
  handle: (ctx: C, params: Record<string, string>) => unknown;
}

interface Compiled<C> extends Route<C> {
  parts: string[];
}

export interface Match<C> {
  route: Route<C>;
  params: Record<string, string>;
}

function splitPath(pathname: string): string[] {
  return pathname.replace(/\/+$/, '').split('/').slice(1);
}

export class Router<C> {
  readonly #routes: Compiled<C>[] = [];

  add(method: Method, pattern: string, handle: Route<C>['handle']): this {
    this.#routes.push({ method, pattern, handle, parts: splitPath(pattern) });
    return this;
  }

  /** Every registered route, in matching order (the access-path test walks them). */
  routes(): readonly Route<C>[] {
    return this.#routes.map(({ method, pattern, handle }) => ({ method, pattern, handle }));
  }

  /**
   * The route for a request. A path that no pattern has → 404 "not found";
   * a path known for other methods → 405 "method not allowed" (LXD's texts).
   */
  match(method: string, pathname: string): Match<C> {
    const segments = splitPath(pathname);
    let pathKnown = false;
    for (const route of this.#routes) {
      const params = matchParts(route.parts, segments);
      if (!params) continue;
      pathKnown = true;
      if (route.method === method) return { route, params };
    }
    if (pathKnown) throw new RestError(405, 'method not allowed');
    throw new RestError(404, 'not found');
  }
}

function matchParts(parts: string[], segments: string[]): Record<string, string> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const segment = segments[i]!;
    if (part.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
      if (value === '') return undefined;
      params[part.slice(1)] = value;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}
