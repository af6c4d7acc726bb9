// socket.io namespace `/terminals`: one pty per socket, piped both ways.
//
//   handshake   session cookie (as /events) or `auth: { token }` (an API token)
//   → open      { kind: 'console' | 'exec' | 'vga', project, instance, command?, cols?, rows? }
//   ← ready     the pty is attached; input is accepted from now on
//   ↔ data      pty bytes (binary frames out; strings or binary in)
//   → resize    { cols, rows }
//   → signal    { signal } (exec only)
//   ← exit      { code } (null for a console), then the server disconnects
//   ← error     { code, message }: one mapped message, then the server disconnects
//
// `vga` is a VM's graphical console: the same socket carries the RFB (VNC)
// bytes of its VGA screen instead of a pty's, for noVNC in the browser. It
// is a console to the policy (the `console` action, as LXD's `console` of
// type `vga`), and is audited as `terminal.vga`; a size means nothing to it.
//
// Latency: nothing is buffered or coalesced here; each chunk the pty gives is
// emitted at once, uncompressed (`compress(false)`; the engine.io server also
// leaves perMessageDeflate off). When the browser goes, the pty goes: the
// exec'd process is hung up (then killed) and the console is detached.
//
// Every `open` is written to the audit log once its outcome is known, before
// the client hears it: who, `terminal.exec` (with the command run) or
// `terminal.console`, project, instance, and `success` or the refusal the
// client was sent (see terminalAuditEntry).
//
// The handshake's credentials are judged again at `open`, as the database
// has them then (an idle socket whose token was deleted, whose user was
// disabled or left the project opens nothing), and every socket is tracked
// in LiveConnections: revoking its token, session or user closes it with
// `error { code: 'UNAUTHORIZED' }`.
import type { Namespace, Server, Socket } from 'socket.io';
import { z } from 'zod';
import type { AuditInput } from '@berth/db';
import { EngineError } from '@berth/engine';
import { ProjectName } from '@berth/engine/schemas';
import type { BerthServices } from '../server/berth.ts';
import { connectionPrincipal } from '../server/live-connections.ts';
import { codedErrorOf, errorCodes, type ErrorCode } from '../server/error-codes.ts';
import { authorize, type ProjectAction } from '../server/policy.ts';
import { authenticateRequest, type RequestUser } from '../server/request-auth.ts';
import { handshakeRefusal } from './handshake-refusal.ts';

export const terminalNamespace = '/terminals';

const Size = {
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
};

export const TerminalOpen = z.object({
  kind: z.enum(['console', 'exec', 'vga']),
  project: ProjectName.default('default'),
  instance: z.string().min(1).max(253),
  command: z.array(z.string()).min(1).max(1000).optional(),
  // A terminal without a size gets LXD's 80×24.
  cols: Size.cols.default(80),
  rows: Size.rows.default(24),
});
export type TerminalOpen = z.input<typeof TerminalOpen>;
type TerminalRequest = z.output<typeof TerminalOpen>;

/** What the policy is asked for each kind: the graphical console is a console. */
const terminalAction = {
  console: 'console',
  exec: 'exec',
  vga: 'console',
} as const satisfies Record<TerminalRequest['kind'], ProjectAction>;

const Resize = z.object(Size);
const SignalRequest = z.object({
  signal: z.union([
    z.enum([
      'SIGINT',
      'SIGTERM',
      'SIGKILL',
      'SIGHUP',
      'SIGQUIT',
      'SIGSTOP',
      'SIGCONT',
      'SIGUSR1',
      'SIGUSR2',
      'SIGWINCH',
    ]),
    z.number().int().min(1).max(64),
  ]),
});

export interface TerminalError {
  code: ErrorCode;
  message: string;
}

/** Credentials no longer valid (as the handshake's UNAUTHORIZED), with why. */
class Unauthorized extends Error {
  override name = 'Unauthorized';
}

/** The error's code and its own words (naming the field of an invalid request). */
function reasonOf(error: unknown): { code: TerminalError['code']; reason: string } {
  if (error instanceof Unauthorized) return { code: 'UNAUTHORIZED', reason: error.message };
  const coded = codedErrorOf(error);
  if (coded) return { code: coded.code, reason: coded.message };
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    const where = issue?.path.join('.') || 'request';
    return { code: 'INVALID_ARGUMENT', reason: `${where}: ${issue?.message ?? 'invalid'}` };
  }
  return { code: 'INTERNAL', reason: error instanceof Error ? error.message : String(error) };
}

/** The error a client sees: the table's title for its code, then the error's own words. */
export function terminalError(error: unknown): TerminalError {
  const { code, reason } = reasonOf(error);
  return { code, message: `${errorCodes[code].title}: ${reason}` };
}

/** Who opened a terminal, as the audit log names them. */
export type TerminalActor = Pick<RequestUser, 'id' | 'username' | 'via' | 'tokenId'>;

const maxDetail = 1000;

/**
 * The audit entry for one `open`: the request as far as it parses (a field
 * that does not is left out), the command an exec ran (the login shell
 * chosen when none was asked for), and `success` or `failure: ` and the
 * reason the client was sent, worded as tRPC's refusals are.
 */
export function terminalAuditEntry(
  actor: TerminalActor,
  raw: unknown,
  outcome: { command?: string[]; error?: unknown },
): AuditInput {
  const fields = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const field = <T>(schema: z.ZodType<T>, value: unknown) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  const { shape } = TerminalOpen;
  const kind = field(shape.kind, fields.kind);
  const command = outcome.command ?? field(shape.command, fields.command);
  const detail: Record<string, unknown> = {};
  if (kind === 'exec' && command) detail.command = command;
  if (actor.via === 'token') detail.via = `token #${actor.tokenId ?? '?'}`;
  const json = JSON.stringify(detail);
  return {
    userId: actor.id,
    actor: actor.username,
    action: `terminal.${kind ?? 'open'}`,
    project: field(shape.project, fields.project) ?? null,
    objectType: 'instance',
    objectName: field(shape.instance, fields.instance) ?? null,
    result: outcome.error === undefined ? 'success' : `failure: ${reasonOf(outcome.error).reason}`,
    detail:
      json === '{}' ? null : json.length > maxDetail ? `${json.slice(0, maxDetail - 1)}…` : json,
  };
}

/** What the handshake established: who, with which roles, until when. */
interface TerminalPrincipal {
  user: RequestUser;
  /** Epoch ms when the credential stops being valid (null: never). */
  expiresAt: number | null;
}

/** The user the socket's credentials name as the database has them now; null when none is valid. */
function socketUser(berth: BerthServices, socket: Socket): Promise<RequestUser | null> {
  // socket.io clients pass a token as `auth: { token }`; others send a Bearer header.
  const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  const headers =
    token === undefined
      ? socket.handshake.headers
      : {
          ...socket.handshake.headers,
          authorization: `Bearer ${typeof token === 'string' ? token : ''}`,
        };
  return authenticateRequest(headers, berth);
}

/** The pty behind one socket, whichever kind it is. */
interface Pty {
  output: NodeJS.ReadableStream;
  input: NodeJS.WritableStream;
  resize(cols: number, rows: number): void;
  signal(signal: NodeJS.Signals | number): void;
  /** Resolves with the exit status (null for a console) once all output is out. */
  ended: Promise<number | null>;
  /** Ends it from our side (the browser went). */
  close(): void;
}

/** How long a hung-up shell gets before it is killed. */
const HANGUP_GRACE_MS = 2_000;

const streamEnded = (stream: NodeJS.ReadableStream) =>
  new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });

/** A login shell: bash when the instance has it, else sh. */
async function defaultShell(berth: BerthServices, project: string, instance: string) {
  const probe = await berth.engine.instances.exec(project, instance, {
    command: ['test', '-x', '/bin/bash'],
    timeout: 10,
  });
  return probe.exitCode === 0 ? ['/bin/bash', '-l'] : ['/bin/sh', '-l'];
}

async function openConsole(berth: BerthServices, req: TerminalRequest): Promise<Pty> {
  const stream = await berth.engine.instances.console(req.project, req.instance, {
    cols: req.cols,
    rows: req.rows,
  });
  return {
    output: stream.output,
    input: stream.input,
    resize: (cols, rows) => stream.resize(cols, rows),
    signal: () => {},
    ended: streamEnded(stream.output).then(() => null),
    close: () => stream.close(),
  };
}

/** A VM's VGA screen: VNC bytes where a pty's would be; it has no size and no signals. */
async function openGraphicalConsole(berth: BerthServices, req: TerminalRequest): Promise<Pty> {
  const stream = await berth.engine.instances.graphicalConsole(req.project, req.instance);
  return {
    output: stream.output,
    input: stream.input,
    resize: () => {},
    signal: () => {},
    ended: streamEnded(stream.output).then(() => null),
    close: () => stream.close(),
  };
}

/** `command` is the request's, or the login shell chosen for it. */
async function openExec(
  berth: BerthServices,
  req: TerminalRequest,
  command: string[],
): Promise<Pty> {
  const proc = await berth.engine.instances.execInteractive(
    req.project,
    req.instance,
    { command },
    { cols: req.cols, rows: req.rows },
  );
  const ended = Promise.all([proc.wait(), streamEnded(proc.stdout)]).then(([code]) => code);
  let closing = false;
  return {
    output: proc.stdout,
    input: proc.stdin,
    resize: (cols, rows) => proc.resize(cols, rows),
    signal: (signal) => proc.signal(signal),
    ended,
    close() {
      if (closing) return;
      closing = true;
      // A terminal that goes away hangs up its shell; one that ignores it is killed.
      proc.signal('SIGHUP');
      const kill = setTimeout(() => proc.signal('SIGKILL'), HANGUP_GRACE_MS);
      void ended.finally(() => clearTimeout(kill));
    },
  };
}

function toBuffer(data: unknown): Buffer | null {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** The handshake's credentials judged again now; throws the refusal the client is sent. */
async function currentUser(berth: BerthServices, socket: Socket): Promise<RequestUser> {
  const user = await socketUser(berth, socket);
  if (!user) throw new Unauthorized('the credentials of this connection are no longer valid');
  return user;
}

function serve(berth: BerthServices, socket: Socket): void {
  const { user, expiresAt } = socket.data.principal as TerminalPrincipal;
  const out = () => socket.compress(false);
  let pty: Pty | null = null;
  let opening = false;
  let gone = false;

  // Only this namespace: a browser multiplexes its `/events` socket over the
  // same connection, and closing that (`disconnect(true)`) would tell it
  // "server disconnect", after which it never reconnects.
  const end = () => socket.disconnect();

  const fail = (error: unknown) => {
    out().emit('error', terminalError(error));
    end();
  };

  // Revoking the token, session or user this socket acts for closes it.
  const untrack = berth.connections.track(connectionPrincipal(user), (reason) => {
    if (gone) return;
    fail(new Unauthorized(reason));
  });

  // A credential that expires ends its terminal too.
  const expiry =
    expiresAt === null
      ? undefined
      : setTimeout(() => end(), Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1));

  // The log must not change the answer: a failed write is reported, not thrown.
  const audit = (raw: unknown, outcome: { command?: string[]; error?: unknown }) =>
    berth.engine.db.audit
      .record(terminalAuditEntry(user, raw, outcome))
      .catch((error: unknown) => console.error('berth: audit log', error));

  const open = async (raw: unknown) => {
    let command: string[] | undefined;
    let opened: Pty;
    try {
      const req = TerminalOpen.parse(raw);
      // The roles and credentials as they are now, not as they were at the handshake.
      authorize(await currentUser(berth, socket), terminalAction[req.kind], req.project);
      if (req.kind === 'exec') {
        command = req.command ?? (await defaultShell(berth, req.project, req.instance));
        opened = await openExec(berth, req, command);
      } else if (req.kind === 'vga') {
        opened = await openGraphicalConsole(berth, req);
      } else {
        opened = await openConsole(berth, req);
      }
    } catch (error) {
      await audit(raw, { command, error });
      if (!gone) fail(error);
      return;
    }
    await audit(raw, { command });
    if (gone) return opened.close();
    pty = opened;
    opened.output.on('data', (chunk: Buffer | string) =>
      out().emit('data', typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
    );
    void opened.ended.then((code) => {
      if (gone) return;
      out().emit('exit', { code });
      end();
    });
    out().emit('ready');
  };

  socket.on('open', (raw: unknown) => {
    if (opening || pty)
      return fail(EngineError.invalid('open', 'a terminal is already open on this connection'));
    opening = true;
    void open(raw);
  });

  socket.on('data', (data: unknown) => {
    const bytes = toBuffer(data);
    if (pty && bytes) pty.input.write(bytes);
  });

  socket.on('resize', (raw: unknown) => {
    const size = Resize.safeParse(raw);
    if (pty && size.success) pty.resize(size.data.cols, size.data.rows);
  });

  socket.on('signal', (raw: unknown) => {
    const request = SignalRequest.safeParse(raw);
    if (pty && request.success) pty.signal(request.data.signal);
  });

  socket.on('disconnect', () => {
    gone = true;
    untrack();
    clearTimeout(expiry);
    pty?.close();
  });
}

export function attachTerminalGateway(io: Server, berth: BerthServices): Namespace {
  const nsp = io.of(terminalNamespace);
  nsp.use((socket, next) => {
    socketUser(berth, socket)
      .then((found) => {
        const user = authorize(found, 'user');
        socket.data.principal = { user, expiresAt: user.expiresAt } satisfies TerminalPrincipal;
        next();
      })
      .catch((error: unknown) => next(new Error(handshakeRefusal(error))));
  });
  nsp.on('connection', (socket) => serve(berth, socket));
  return nsp;
}
