// Prisma's own schema engine, in WebAssembly, driven through a driver
// adapter. The stock CLI would download a native binary at every command,
// which cannot happen on an offline host; this runs the same engine in
// process. The package's default entry imports a `.wasm` file (Node 20 cannot),
// so the module is compiled here and handed to its JS glue.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type {
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import * as glue from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg';

export type { SchemaEngine };

// Node has the WebAssembly global; its types live in lib.dom, which this
// package does not load, so the two calls used are declared here.
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(
    module: object,
    imports: Record<string, object>,
  ): Promise<{ exports: Record<string, unknown> }>;
};

let ready: Promise<void> | undefined;

function wasmPath(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its JS entries; find the .wasm beside them.
  const entry = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  return path.join(path.dirname(entry), 'schema_engine_bg.wasm');
}

async function loadWasm(): Promise<void> {
  const bytes = await readFile(wasmPath());
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, { './schema_engine_bg.js': glue });
  const exports = instance.exports as { __wbindgen_start?: () => void };
  glue.__wbg_set_wasm(exports);
  exports.__wbindgen_start?.();
}

export interface OpenSchemaEngine {
  engine: SchemaEngine;
  /** Frees the engine and closes every connection it opened. */
  close(): Promise<void>;
}

/** Opens a schema engine over `adapterFactory`, for the given schema text. */
export async function openSchemaEngine(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  schema: { path: string; content: string },
): Promise<OpenSchemaEngine> {
  ready ??= loadWasm();
  await ready;
  const opened: SqlDriverAdapter[] = [];
  const adapter = bindMigrationAwareSqlAdapterFactory(withScriptShadow(adapterFactory, opened));
  const log = (_message: string) => {
    // The engine reports progress lines here; the runner reports its own.
  };
  const engine = await glue.SchemaEngine.new(
    { datamodels: [[schema.path, schema.content]] },
    log,
    adapter,
  );
  return {
    engine,
    async close() {
      engine.free();
      await Promise.allSettled(opened.map((a) => a.dispose()));
    },
  };
}

export const noFilters = { externalTables: [], externalEnums: [] };

/**
 * The engine replays a whole migration file into the shadow database with
 * one `executeRaw`, but better-sqlite3 prepares one statement at a time and
 * refuses the file. Route multi-statement SQL to `executeScript` instead.
 */
function withScriptShadow(
  factory: SqlMigrationAwareDriverAdapterFactory,
  opened: SqlDriverAdapter[],
): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => {
      const adapter = await factory.connect();
      opened.push(adapter);
      return adapter;
    },
    connectToShadowDb: async () => {
      const shadow: SqlDriverAdapter = await factory.connectToShadowDb();
      opened.push(shadow);
      const executeRaw = shadow.executeRaw.bind(shadow);
      shadow.executeRaw = async (query) => {
        try {
          return await executeRaw(query);
        } catch (error) {
          if (!(error instanceof RangeError) || !/more than one statement/.test(error.message))
            throw error;
          await shadow.executeScript(query.sql);
          return 0;
        }
      };
      return shadow;
    },
  };
}
