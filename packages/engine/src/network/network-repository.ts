// What the network service needs from the database. packages/db's
// `NetworkStore` (stores/networks.ts) satisfies it; the service depends on
// this shape so the engine does not depend on how packages/db is wired.
export interface NetworkRow {
  id: number;
  project: string;
  name: string;
  type: string;
  description: string;
  state: string;
  config: Record<string, string>;
}

export interface NetworkRepository {
  list(project?: string): Promise<NetworkRow[]>;
  get(project: string, name: string): Promise<NetworkRow | null>;
  create(
    project: string,
    input: {
      name: string;
      type: string;
      description?: string;
      state?: string;
      config?: Record<string, string>;
    },
  ): Promise<NetworkRow | null>;
  update(id: number, input: { description: string; config: Record<string, string> }): Promise<void>;
  setState(id: number, state: string): Promise<void>;
  delete(id: number): Promise<void>;
}

/** `Database`/`Stores` once the lead wires `networks`. */
export interface NetworkDb {
  readonly networks: NetworkRepository;
}
