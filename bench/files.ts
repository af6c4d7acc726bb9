// Section files: push and pull of one file (100 MB by default) into a
// running container and back.
//
//   API  POST /1.0/instances/<name>/files?path=… with the bytes as the body
//        (X-LXD-type: file, mode, uid, gid, write: overwrite), and GET of
//        the same path read to its end: the REST /files endpoint
//   CLI  `lxc file push LOCAL NAME/PATH` and `lxc file pull NAME/PATH LOCAL`
//
// Every transfer is checked: the pulled bytes must be the pushed ones.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Cells } from './section-measure.ts';
import type { Section, SectionContext } from './section-types.ts';

const IN_CONTAINER = '/bench-file';

/** One request on the unix socket with a raw body in and out (LxdClient speaks JSON only). */
function rawRequest(
  agent: http.Agent,
  socketPath: string,
  method: string,
  urlPath: string,
  headers: Record<string, string | number>,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, agent, method, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectOk(what: string, res: { status: number; body: Buffer }): void {
  if (res.status >= 200 && res.status < 300) return;
  throw new Error(`${what}: HTTP ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
}

function sameBytes(what: string, got: Buffer, want: Buffer): void {
  if (got.length !== want.length)
    throw new Error(`${what}: ${got.length} bytes, expected ${want.length}`);
  if (!got.equals(want)) throw new Error(`${what}: the bytes differ from the pushed ones`);
}

export const filesSection: Section = {
  id: 'files',
  title: (c) => `File push and pull, ${c.fileMb} MB`,
  params: (c) => ({ megabytes: c.fileMb, iterations: c.fileIterations }),
  rows: (c) => [
    { id: 'api-push', scenario: `push ${c.fileMb} MB`, path: 'API (POST /files)' },
    { id: 'cli-push', scenario: `push ${c.fileMb} MB`, path: '`lxc file push`' },
    { id: 'api-pull', scenario: `pull ${c.fileMb} MB`, path: 'API (GET /files)' },
    { id: 'cli-pull', scenario: `pull ${c.fileMb} MB`, path: '`lxc file pull`' },
  ],
  how: (c) => [
    `${c.fileIterations} transfers per row of one file of random bytes (MB = 2^20 bytes) to ${IN_CONTAINER} in one running busybox container, ` +
      'after one untimed push and pull; API = one HTTP request on the unix socket with the bytes as its body (push) or read to its end (pull); ' +
      'every pull is compared with what was pushed (untimed).',
  ],
  async run(ctx: SectionContext) {
    const cells = new Cells(ctx);
    const name = await ctx.probe();
    const size = ctx.counts.fileMb * 1024 * 1024;
    const data = randomBytes(size);
    const local = await mkdtemp(path.join(os.tmpdir(), 'bench-files-'));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const socket = `${ctx.project.dir}/unix.socket`;
      const query = `path=${encodeURIComponent(IN_CONTAINER)}&project=${encodeURIComponent(ctx.project.project)}`;
      const url = `/1.0/instances/${name}/files?${query}`;
      const apiPush = async () =>
        expectOk(
          'push',
          await rawRequest(
            agent,
            socket,
            'POST',
            url,
            {
              'content-type': 'application/octet-stream',
              'content-length': data.length,
              'x-lxd-type': 'file',
              'x-lxd-mode': '0644',
              'x-lxd-uid': 0,
              'x-lxd-gid': 0,
              'x-lxd-write': 'overwrite',
            },
            data,
          ),
        );
      let pulled: Buffer = Buffer.alloc(0);
      const apiPull = async () => {
        const res = await rawRequest(agent, socket, 'GET', url, {});
        expectOk('pull', res);
        pulled = res.body;
      };
      const source = path.join(local, 'push');
      const target = path.join(local, 'pull');
      await writeFile(source, data);
      const cliPush = async () =>
        void (await ctx.project.cli.run(['file', 'push'], [source, `${name}${IN_CONTAINER}`]));
      const cliPull = async () => {
        await rm(target, { force: true });
        await ctx.project.cli.run(['file', 'pull'], [`${name}${IN_CONTAINER}`, target], {
          needStdout: true,
        });
      };
      // Warm-up: the first write allocates the file's blocks; later ones overwrite.
      await apiPush()
        .then(apiPull)
        .catch(() => undefined);
      const n = ctx.counts.fileIterations;
      // A transfer that delivered the wrong bytes is a failure, not a figure.
      const check = async (row: string, got: () => Promise<Buffer>) => {
        try {
          sameBytes(row, await got(), data);
        } catch (error) {
          cells.fail(row, error);
        }
      };
      if (await cells.sample('api-push', n, apiPush)) {
        if (await cells.sample('api-pull', n, apiPull)) await check('api-pull', async () => pulled);
      }
      await rm(target, { force: true });
      if (await cells.sample('cli-push', n, cliPush)) {
        if (await cells.sample('cli-pull', n, cliPull))
          await check('cli-pull', () => readFile(target));
      }
    } catch (error) {
      cells.failRest(['api-push', 'api-pull', 'cli-push', 'cli-pull'], error);
    } finally {
      agent.destroy();
      await rm(local, { recursive: true, force: true });
      // The file stays in the probe, which is deleted with it.
    }
    return cells.figures;
  },
};
