// Section events: 50 listeners on GET /1.0/events?type=lifecycle (each its
// own websocket on the unix socket, as `lxc monitor` opens it), one
// lifecycle change at a time (PATCH of the instance's description:
// `instance-updated`), timed from sending the change until the first
// listener and until all 50 have its event.
import type { WebSocket } from 'ws';
import { Cells } from './section-measure.ts';
import type { Section, SectionContext } from './section-types.ts';
import { openUnixSocket } from './ws-unix.ts';

const EVENT_TIMEOUT_MS = 15_000;

export const eventsSection: Section = {
  id: 'events',
  title: (c) => `Lifecycle events fanned out to ${c.listeners} listeners`,
  params: (c) => ({ listeners: c.listeners, events: c.events }),
  rows: (c) => [
    { id: 'request', scenario: 'the change itself (PATCH answered)', path: 'API' },
    { id: 'first', scenario: 'change → first listener has the event', path: 'API (websockets)' },
    {
      id: 'all',
      scenario: `change → all ${c.listeners} listeners have it`,
      path: 'API (websockets)',
    },
    { id: 'spread', scenario: 'first → last listener', path: 'API (websockets)' },
  ],
  how: (c) => [
    `${c.listeners} websockets on /1.0/events?type=lifecycle&project=P, all open and each having received one untimed warm-up event; ` +
      `then ${c.events} changes one after the other: PATCH /1.0/instances/NAME {description} (LXD and Berth both emit instance-updated), ` +
      'timed from just before the request until the event reaches the first listener and every listener (all in the bench process, which reads each message as text).',
  ],
  async run(ctx: SectionContext) {
    const cells = new Cells(ctx);
    const name = await ctx.probe();
    const { listeners: count, events } = ctx.counts;
    const socket = `${ctx.project.dir}/unix.socket`;
    const path = `/1.0/events?type=lifecycle&project=${encodeURIComponent(ctx.project.project)}`;
    const sockets: WebSocket[] = [];
    let arrivals: number[] = [];
    let armed = false;
    let received = 0;
    let done: () => void = () => {};
    try {
      for (let i = 0; i < count; i++) {
        const ws = await openUnixSocket(socket, path);
        sockets.push(ws);
        ws.on('message', (data: Buffer) => {
          if (!armed || arrivals[i]! >= 0) return;
          // Text search, not JSON.parse: the bench's own CPU is shared by all 50.
          const text = data.toString('utf8');
          if (!text.includes('"instance-updated"') || !text.includes(`/instances/${name}`)) return;
          arrivals[i] = performance.now();
          if (++received === count) done();
        });
      }
      const change = async (
        i: number,
      ): Promise<{ t0: number; answered: number; arrivals: number[] }> => {
        arrivals = Array.from({ length: count }, () => -1);
        received = 0;
        const all = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              reject(
                new Error(
                  `after ${EVENT_TIMEOUT_MS / 1000} s only ${received} of ${count} listeners had the event`,
                ),
              ),
            EVENT_TIMEOUT_MS,
          );
          done = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        // Awaited below; a failed PATCH must not leave its timeout unhandled.
        all.catch(() => undefined);
        armed = true;
        const t0 = performance.now();
        const res = await ctx.project.client.request('PATCH', `/1.0/instances/${name}`, {
          description: `bench event ${i}`,
        });
        if (res.type === 'async') await ctx.project.client.wait(res.operation);
        const answered = performance.now() - t0;
        await all;
        armed = false;
        return { t0, answered, arrivals: [...arrivals] };
      };
      await change(-1);
      const answered: number[] = [];
      const first: number[] = [];
      const last: number[] = [];
      const spread: number[] = [];
      for (let i = 0; i < events; i++) {
        ctx.signal.throwIfAborted();
        const r = await change(i);
        const lo = Math.min(...r.arrivals);
        const hi = Math.max(...r.arrivals);
        answered.push(r.answered);
        first.push(lo - r.t0);
        last.push(hi - r.t0);
        spread.push(hi - lo);
      }
      cells.samples('request', answered);
      cells.samples('first', first);
      cells.samples('all', last);
      cells.samples('spread', spread);
    } catch (error) {
      cells.failRest(['request', 'first', 'all', 'spread'], error);
    } finally {
      armed = false;
      for (const ws of sockets) ws.terminate();
    }
    return cells.figures;
  },
};
