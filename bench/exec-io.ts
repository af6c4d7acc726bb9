// Section exec-io: a command with 1 MB of output, `head -c 1000000
// /dev/zero`, until all of it has arrived and the exit code is known.
//
//   API  POST /1.0/instances/<name>/exec {wait-for-websocket: true,
//        interactive: false}, then the operation's four websockets (control,
//        0, 1, 2) opened at once, as `lxc exec` does; done when stdout has
//        closed with every byte and GET /1.0/operations/<id>/wait says 0
//   CLI  `lxc exec <name> -- head -c N /dev/zero`, stdout read to the end
import type { WebSocket } from 'ws';
import type { LxdOperation } from './lxd-client.ts';
import { Cells } from './section-measure.ts';
import type { Section, SectionContext } from './section-types.ts';
import { closed, openUnixSocket } from './ws-unix.ts';

async function execStreamed(ctx: SectionContext, name: string, bytes: number): Promise<void> {
  const { client, project, dir } = ctx.project;
  const res = await client.request<LxdOperation>('POST', `/1.0/instances/${name}/exec`, {
    command: ['head', '-c', String(bytes), '/dev/zero'],
    environment: {},
    'wait-for-websocket': true,
    interactive: false,
    'record-output': false,
  });
  const fds = res.metadata.metadata?.['fds'] as Record<string, string> | undefined;
  if (res.type !== 'async' || !fds?.['control'] || !fds['1'])
    throw new Error(
      `exec: expected an operation with websocket secrets, got ${JSON.stringify(res.metadata).slice(0, 200)}`,
    );
  const socket = `${dir}/unix.socket`;
  const wsPath = (secret: string) =>
    `${res.operation}/websocket?secret=${encodeURIComponent(secret)}&project=${encodeURIComponent(project)}`;
  const sockets: WebSocket[] = [];
  try {
    const [, , stdout] = await Promise.all(
      ['control', '0', '1', '2'].map(async (fd) => {
        const ws = await openUnixSocket(socket, wsPath(fds[fd]!));
        sockets.push(ws);
        return ws;
      }),
    );
    let received = 0;
    stdout!.on('message', (data: Buffer) => (received += data.length));
    await closed(stdout!);
    const op = await client.wait(res.operation);
    if (op.metadata?.['return'] !== 0)
      throw new Error(`exec head: exit code ${String(op.metadata?.['return'])}`);
    if (received !== bytes)
      throw new Error(`exec head: ${received} bytes on stdout, expected ${bytes}`);
  } finally {
    for (const ws of sockets) ws.terminate();
  }
}

export const execIoSection: Section = {
  id: 'exec-io',
  title: (c) =>
    `Exec with ${(c.execBytes / 1e6).toFixed(c.execBytes % 1e6 === 0 ? 0 : 2)} MB of output`,
  params: (c) => ({ bytes: c.execBytes, iterations: c.iterations }),
  rows: (c) => [
    { id: 'api', scenario: `exec \`head -c ${c.execBytes} /dev/zero\``, path: 'API (websockets)' },
    { id: 'cli', scenario: `exec \`head -c ${c.execBytes} /dev/zero\``, path: '`lxc exec`' },
  ],
  how: (c) => [
    `${c.iterations} runs per path in one running busybox container, after one untimed warm-up; ` +
      'API = POST exec {wait-for-websocket, interactive: false}, control/0/1/2 websockets opened at once, ' +
      'until stdout closes with every byte and the operation reports exit 0; ' +
      'CLI = `lxc exec NAME -- head -c N /dev/zero` with stdout read to its end (stdin not a terminal).',
  ],
  async run(ctx) {
    const cells = new Cells(ctx);
    const { execBytes, iterations } = ctx.counts;
    const name = await ctx.probe();
    await execStreamed(ctx, name, execBytes).catch(() => undefined);
    await cells.sample('api', iterations, () => execStreamed(ctx, name, execBytes));
    const cli = async () => {
      const { stdout } = await ctx.project.cli.run(
        ['exec'],
        [name, '--', 'head', '-c', String(execBytes), '/dev/zero'],
        { needStdout: true },
      );
      if (stdout.length !== execBytes)
        throw new Error(`lxc exec head: ${stdout.length} bytes on stdout, expected ${execBytes}`);
    };
    await cli().catch(() => undefined);
    await cells.sample('cli', iterations, cli);
    return cells.figures;
  },
};
