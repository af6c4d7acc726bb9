// Instance events the drivers notice on the host (LXC hooks, a QEMU exit),
// passed on to whoever handles them. Drivers are made before the instance
// service that handles their events: what arrives before it subscribes is
// dropped, and the instance service's reconcile at start reads what really
// runs instead.
import type { InstanceHostEvent } from './driver.ts';

export type HostEventListener = (event: InstanceHostEvent) => void;

export class HostEvents {
  readonly #listeners = new Set<HostEventListener>();

  emit(event: InstanceHostEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Returns the unsubscribe. */
  subscribe(listener: HostEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
