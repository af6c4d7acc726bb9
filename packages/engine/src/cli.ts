#!/usr/bin/env -S npx tsx
// berth-engine: set up and run the engine without the web console.
//   init   migrate the database, create the default project and the first admin
//   serve  init, then keep the engine running until SIGINT/SIGTERM
//   info   print the drivers this host supports
import { ensureAdmin, openDataDirDatabase } from '@berth/db';
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createEngine } from './engine.ts';
import { parseCliEnv } from './cli-env.ts';

type Engine = Awaited<ReturnType<typeof createEngine>>;

/** Builds an image under `alias` in the default project unless the alias exists. */
async function ensureBuiltImage(
  engine: Engine,
  alias: string,
  build: () => ReturnType<Engine['images']['buildBusybox']>,
): Promise<void> {
  const exists = await engine.images.resolveAlias('default', alias).then(
    () => true,
    () => false,
  );
  if (exists) return;
  const done = await engine.operations.wait((await build()).id);
  if (done.status !== 'Success')
    throw new Error(`Building the "${alias}" image failed: ${done.err}`);
  const fingerprint = (done.metadata as { fingerprint?: string } | null)?.fingerprint ?? '';
  console.log(`Built the default image "${alias}" (${fingerprint.slice(0, 12)})`);
}

async function init() {
  const env = parseCliEnv();
  const db = await openDataDirDatabase(env.dataDir);
  const engine = await createEngine({
    dataDir: env.dataDir,
    db,
    location: env.BERTH_LOCATION,
    ...(env.BERTH_CACHE_DIR ? { cacheDir: env.BERTH_CACHE_DIR } : {}),
  });
  const admin = await ensureAdmin(db, {
    username: env.BERTH_ADMIN_USER,
    ...(env.BERTH_ADMIN_PASSWORD ? { password: env.BERTH_ADMIN_PASSWORD } : {}),
  });
  // The default images, so a first `launch` (and `launch --vm`) works with nothing downloaded.
  await ensureBuiltImage(engine, 'busybox', () =>
    engine.images.buildBusybox('default', { alias: 'busybox' }),
  );
  if (engine.drivers().some((d) => d.type === 'virtual-machine' && d.available)) {
    await ensureBuiltImage(engine, 'busybox-vm', () =>
      engine.images.buildBusyboxVm('default', { alias: 'busybox-vm' }),
    );
  }
  const passwordFile = path.join(env.dataDir, 'initial-admin-password');
  if (admin.generatedPassword) {
    // Shown once here and kept, readable by root only, until first login changes it.
    await writeFile(passwordFile, `${admin.username}:${admin.generatedPassword}\n`, {
      mode: 0o600,
    });
    console.log(
      `Created server admin "${admin.username}" with password: ${admin.generatedPassword}`,
    );
    console.log(`(also saved in ${passwordFile}; you must change it at first login)`);
  } else if (admin.created) {
    await rm(passwordFile, { force: true });
    console.log(
      `Created server admin "${admin.username}" with the password from BERTH_ADMIN_PASSWORD`,
    );
  }
  return { env, engine, db };
}

function printDrivers(drivers: ReturnType<Engine['drivers']>) {
  for (const d of drivers) {
    console.log(
      `  ${d.type.padEnd(16)} ${d.name.padEnd(5)} ${d.available ? 'available' : `unavailable: ${d.reason ?? ''}`}`,
    );
  }
}

const command = process.argv[2] ?? 'serve';
switch (command) {
  case 'init': {
    const { engine, db, env } = await init();
    console.log(`Database ready at ${db.url} (data directory ${env.dataDir})`);
    printDrivers(engine.drivers());
    await engine.close();
    await db.close();
    break;
  }
  case 'info': {
    const { engine, db } = await init();
    printDrivers(engine.drivers());
    await engine.close();
    await db.close();
    break;
  }
  case 'serve': {
    const { engine, db, env } = await init();
    console.log(`Berth engine running (data directory ${env.dataDir}). Drivers:`);
    printDrivers(engine.drivers());
    const stop = async () => {
      await engine.close();
      await db.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
    setInterval(() => {}, 1 << 30);
    break;
  }
  default:
    console.error(`usage: berth-engine [init|serve|info] (got "${command}")`);
    process.exit(2);
}
