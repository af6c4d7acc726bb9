// A Berth engine in its own process, for the kill -9 recovery test: it
// launches a container, starts an operation that never ends, prints what
// it did as one JSON line, and waits to be killed.
import { createEngine } from '../../src/index.ts';

const [dataDir, bridge] = process.argv.slice(2);
if (!dataDir || !bridge) throw new Error('usage: engine-child.ts DATA_DIR BRIDGE');
const engine = await createEngine({ dataDir, defaultNetwork: bridge, scheduler: false });
const build = await engine.operations.wait(
  (await engine.images.buildBusybox('default', { alias: 'busybox' })).id,
);
if (build.status !== 'Success') throw new Error(build.err);
await engine.instances.createAndWait('default', {
  name: 'killed-under',
  source: { type: 'image', alias: 'busybox' },
  start: true,
});
const pending = await engine.operations.start({
  project: 'default',
  description: 'Never ends',
  run: () => new Promise(() => {}),
});
const { pid } = await engine.instances.state('default', 'killed-under');
process.stdout.write(`${JSON.stringify({ containerPid: pid, operation: pending.id })}\n`);
setInterval(() => {}, 1 << 30);
