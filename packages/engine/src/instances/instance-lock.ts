// One operation per instance at a time (LXD's operationlock): a second
// lifecycle action on the same instance while one runs is refused as BUSY
// rather than queued behind it, so users see at once why nothing happens.
import { EngineError } from '../errors.ts';

export class InstanceLocks {
  readonly #held = new Map<string, string>();

  async with<T>(project: string, name: string, action: string, fn: () => Promise<T>): Promise<T> {
    const key = `${project}/${name}`;
    const current = this.#held.get(key);
    if (current !== undefined) {
      throw new EngineError('BUSY', `Instance "${name}" is busy: ${current} is in progress`);
    }
    this.#held.set(key, action);
    try {
      return await fn();
    } finally {
      this.#held.delete(key);
    }
  }

  held(project: string, name: string): string | undefined {
    return this.#held.get(`${project}/${name}`);
  }
}
