// Undo a half-done multi-step change (LXD's shared/revert): register an undo
// step after each step that succeeded; if the whole does not succeed, the
// steps are undone in reverse order.
export class Reverter {
  readonly #steps: (() => Promise<void> | void)[] = [];
  #done = false;

  add(undo: () => Promise<void> | void): void {
    this.#steps.push(undo);
  }

  /** The change succeeded: keep everything. */
  success(): void {
    this.#done = true;
  }

  /** Undo every step (errors in undo steps are collected, not thrown over the original). */
  async fail(): Promise<unknown[]> {
    if (this.#done) return [];
    this.#done = true;
    const errors: unknown[] = [];
    for (const step of this.#steps.reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    return errors;
  }

  /** Runs `fn`; on any error undoes the registered steps and rethrows. */
  static async run<T>(fn: (revert: Reverter) => Promise<T>): Promise<T> {
    const revert = new Reverter();
    try {
      const out = await fn(revert);
      revert.success();
      return out;
    } catch (error) {
      await revert.fail();
      throw error;
    }
  }
}
