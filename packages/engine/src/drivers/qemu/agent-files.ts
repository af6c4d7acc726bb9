// Files in a VM through the guest agent: contents with guest-file-open/
// read/write/close, everything QGA has no command for (what a path is, its
// owner and mode, a directory's entries, symlinks, chmod/chown, removal)
// with small sh scripts run by guest-exec. Paths are the guest's own: the
// guest resolves them, so nothing here can reach the host's filesystem.
import { EngineError } from '../../errors.ts';
import type { FileEntry, FileStat, FileWrite } from '../driver.ts';
import { runInGuest, type AgentAccess } from './agent-exec.ts';

/** Raw bytes per guest-file-read/-write (QGA's replies stay well under its limits). */
const CHUNK = 48 * 1024;

/** Exit codes of the scripts below. */
const MISSING = 2;
const NOT_A_SYMLINK = 3;
const NOT_A_FILE = 4;
const NOT_A_DIRECTORY = 5;

// `type` line, `mode uid gid size` line, then the target (symlink) or the
// NUL-separated entries (directory).
const STAT_SCRIPT = `p=$1
if [ -L "$p" ]; then t=symlink; elif [ -d "$p" ]; then t=directory; elif [ -f "$p" ]; then t=file; elif [ -e "$p" ]; then t=other; else exit ${MISSING}; fi
echo "$t"
stat -c '%a %u %g %s' "$p" || exit 1
case $t in
symlink) readlink "$p" ;;
directory)
  for f in "$p"/.* "$p"/*; do
    n=\${f##*/}
    case $n in .|..) continue ;; esac
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\\0' "$n"; fi
  done ;;
esac`;

// One NUL-terminated record per path: name, type, \`mode uid gid size\`, symlink target
// (empty otherwise). A path gone before its stat is left out.
const RECORD_FUNCTION = `record() {
if [ -L "$1" ]; then t=symlink; elif [ -d "$1" ]; then t=directory; elif [ -f "$1" ]; then t=file; else t=other; fi
s=$(stat -c '%a %u %g %s' "$1" 2>/dev/null) || return 0
l=; if [ $t = symlink ]; then l=$(readlink "$1"); fi
printf '%s\\0%s\\0%s\\0%s\\0' "$2" "$t" "$s" "$l"
}`;

const STAT_ONE_SCRIPT = `${RECORD_FUNCTION}
p=$1
if [ ! -e "$p" ] && [ ! -L "$p" ]; then exit ${MISSING}; fi
record "$p" "$2"`;

// \`cd\` follows a symlink given as the directory itself, as the lxc driver does.
const LIST_SCRIPT = `${RECORD_FUNCTION}
p=$1
if [ ! -e "$p" ] && [ ! -L "$p" ]; then exit ${MISSING}; fi
[ -d "$p" ] || exit ${NOT_A_DIRECTORY}
cd "$p" || exit 1
for n in .* *; do
  case $n in .|..) continue ;; esac
  if [ -e "$n" ] || [ -L "$n" ]; then record "./$n" "$n"; fi
done`;

// Before a write: parents, and whether the path exists (and as what).
const PREPARE_SCRIPT = `p=$1; t=$2; parents=$3
if [ "$parents" = 1 ]; then mkdir -p "\${p%/*}" 2>/dev/null; fi
if [ -L "$p" ]; then echo symlink; elif [ -d "$p" ]; then echo directory; elif [ -f "$p" ]; then echo file; elif [ -e "$p" ]; then echo other; else echo missing; fi`;

const SYMLINK_SCRIPT = `p=$1; target=$2
if [ -e "$p" ] || [ -L "$p" ]; then [ -L "$p" ] || exit ${NOT_A_SYMLINK}; rm -f "$p" || exit 1; fi
ln -s "$target" "$p"`;

// Owner then mode (chown clears setuid/setgid). `-` leaves one as it is; -h: a symlink itself.
const OWN_SCRIPT = `p=$1; o=$2; m=$3; h=$4
if [ "$o" != - ]; then if [ "$h" = 1 ]; then chown -h "$o" "$p"; else chown "$o" "$p"; fi || exit 1; fi
if [ "$m" != - ]; then chmod "$m" "$p" || exit 1; fi`;

const REMOVE_SCRIPT = `p=$1
if [ ! -e "$p" ] && [ ! -L "$p" ]; then exit ${MISSING}; fi
if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir "$p"; else rm -f "$p"; fi`;

function sh(script: string, ...args: string[]): [string, ...string[]] {
  return ['/bin/sh', '-c', script, 'sh', ...args];
}

function checkPath(value: string): string {
  if (value.includes('\0')) throw EngineError.invalid('path', 'must not contain a NUL byte');
  if (!value.startsWith('/')) throw EngineError.invalid('path', 'must be an absolute path');
  return value;
}

function failed(what: string, path: string, result: { exitCode: number; stderr: string }) {
  if (result.exitCode === MISSING) return EngineError.notFound(`${path}`, { field: 'path' });
  const reason = result.stderr.trim() || `exit code ${result.exitCode}`;
  return new EngineError('INVALID_ARGUMENT', `${what} ${path} in the VM: ${reason}`, {
    field: 'path',
  });
}

/** Parses STAT_SCRIPT's output. */
export function parseStat(
  name: string,
  out: Buffer,
): { entry: FileEntry; entries?: string[]; kind: string } {
  const first = out.indexOf(0x0a);
  const second = out.indexOf(0x0a, first + 1);
  if (first < 0 || second < 0)
    throw new EngineError('INTERNAL', 'Unreadable stat output from the VM');
  const kind = out.subarray(0, first).toString('utf8');
  const [mode, uid, gid, size] = out
    .subarray(first + 1, second)
    .toString('utf8')
    .split(' ');
  const rest = out.subarray(second + 1);
  const entry: FileEntry = {
    name,
    type: kind === 'directory' ? 'directory' : kind === 'symlink' ? 'symlink' : 'file',
    mode: parseInt(mode ?? '0', 8) & 0o7777,
    uid: Number(uid),
    gid: Number(gid),
    size: Number(size),
  };
  if (kind === 'symlink') {
    entry.target = rest.toString('utf8').replace(/\n$/, '');
    return { entry, kind };
  }
  if (kind === 'directory') {
    const entries = rest
      .toString('utf8')
      .split('\0')
      .filter((n) => n !== '')
      .sort();
    return { entry, entries, kind };
  }
  return { entry, kind };
}

/** Parses the records RECORD_FUNCTION prints, sorted by name. */
export function parseStatRecords(out: Buffer): FileStat[] {
  const fields = out.toString('utf8').split('\0');
  const entries: FileStat[] = [];
  for (let i = 0; i + 3 < fields.length; i += 4) {
    const [name = '', kind = '', numbers = '', target = ''] = fields.slice(i, i + 4);
    const [mode, uid, gid, size] = numbers.split(' ');
    const entry: FileStat = {
      name,
      type:
        kind === 'directory' || kind === 'symlink' || kind === 'file' || kind === 'other'
          ? kind
          : 'other',
      mode: parseInt(mode ?? '0', 8) & 0o7777,
      uid: Number(uid),
      gid: Number(gid),
      size: Number(size),
    };
    if (kind === 'symlink') entry.target = target;
    entries.push(entry);
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function baseName(path: string): string {
  return (
    path
      .split('/')
      .filter((p) => p !== '')
      .pop() ?? '/'
  );
}

export async function statFile(agent: AgentAccess, path: string): Promise<FileStat> {
  checkPath(path);
  const result = await runInGuest(agent, sh(STAT_ONE_SCRIPT, path, baseName(path)));
  if (result.exitCode !== 0) throw failed('Cannot stat', path, result);
  const [entry] = parseStatRecords(result.stdout);
  if (!entry) throw EngineError.notFound(`${path}`, { field: 'path' });
  return entry;
}

export async function listDirectory(agent: AgentAccess, path: string): Promise<FileStat[]> {
  checkPath(path);
  const result = await runInGuest(agent, sh(LIST_SCRIPT, path));
  if (result.exitCode === NOT_A_DIRECTORY)
    throw EngineError.invalid('path', `${path} is not a directory`);
  if (result.exitCode !== 0) throw failed('Cannot list', path, result);
  return parseStatRecords(result.stdout);
}

export async function pullFile(
  agent: AgentAccess,
  path: string,
): Promise<{ entry: FileEntry; content?: Buffer; entries?: string[] }> {
  checkPath(path);
  const result = await runInGuest(agent, sh(STAT_SCRIPT, path));
  if (result.exitCode !== 0) throw failed('Cannot read', path, result);
  const name =
    path
      .split('/')
      .filter((p) => p !== '')
      .pop() ?? '/';
  const { entry, entries, kind } = parseStat(name, result.stdout);
  if (kind === 'symlink') return { entry };
  if (kind === 'directory') return { entry, entries: entries ?? [] };
  if (kind !== 'file')
    throw EngineError.invalid('path', `${path} is not a regular file, directory or symlink`);
  const handle = await (await agent()).execute<number>('guest-file-open', { path, mode: 'r' });
  const parts: Buffer[] = [];
  try {
    for (;;) {
      const read = await (
        await agent()
      ).execute<{ count: number; 'buf-b64': string; eof: boolean }>('guest-file-read', {
        handle,
        count: CHUNK,
      });
      if (read.count > 0) parts.push(Buffer.from(read['buf-b64'], 'base64'));
      if (read.eof || read.count === 0) break;
    }
  } finally {
    await (await agent()).execute('guest-file-close', { handle }).catch(() => {});
  }
  const content = Buffer.concat(parts);
  return { entry: { ...entry, size: content.length }, content };
}

export async function pushFile(agent: AgentAccess, path: string, file: FileWrite): Promise<void> {
  checkPath(path);
  const mode = file.mode;
  if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
    throw EngineError.invalid('mode', `must be a permission mode (0-07777), got ${mode}`);
  }
  for (const [field, id] of [
    ['uid', file.uid],
    ['gid', file.gid],
  ] as const) {
    if (id !== undefined && (!Number.isSafeInteger(id) || id < 0))
      throw EngineError.invalid(field, `must be a non-negative integer, got ${id}`);
  }
  const type = file.type ?? 'file';
  const prepared = await runInGuest(
    agent,
    sh(PREPARE_SCRIPT, path, type, file.createParents ? '1' : '0'),
  );
  if (prepared.exitCode !== 0) throw failed('Cannot write', path, prepared);
  const existing = prepared.stdout.toString('utf8').trim();
  const existed = existing !== 'missing';
  // As the lxc driver: new things belong to root with 0644/0755; existing ones keep theirs unless told.
  const owner =
    file.uid !== undefined || file.gid !== undefined
      ? `${file.uid ?? ''}:${file.gid ?? ''}`.replace(/:$/, '')
      : existed
        ? '-'
        : '0:0';
  const own = async (defaultMode: number, link: boolean) => {
    const m = mode ?? (existed ? undefined : defaultMode);
    const result = await runInGuest(
      agent,
      sh(OWN_SCRIPT, path, owner, m === undefined || link ? '-' : m.toString(8), link ? '1' : '0'),
    );
    if (result.exitCode !== 0) throw failed('Cannot set the owner or mode of', path, result);
  };

  if (type === 'symlink') {
    if (!file.target) throw EngineError.invalid('target', 'a symlink needs a target');
    const result = await runInGuest(agent, sh(SYMLINK_SCRIPT, path, file.target));
    if (result.exitCode === NOT_A_SYMLINK)
      throw new EngineError('ALREADY_EXISTS', `${path} exists and is not a symlink`);
    if (result.exitCode !== 0) throw failed('Cannot write', path, result);
    if (owner !== '-') await own(0o777, true);
    return;
  }
  if (type === 'directory') {
    if (existed && existing !== 'directory')
      throw new EngineError('ALREADY_EXISTS', `${path} exists and is not a directory`);
    if (!existed) {
      const result = await runInGuest(agent, ['/bin/mkdir', path]);
      if (result.exitCode !== 0) throw failed('Cannot write', path, result);
    }
    await own(0o755, false);
    return;
  }
  if (existed && existing !== 'file') {
    if (existing === 'directory') throw EngineError.invalid('path', `${path} is a directory`);
    if (existing === 'other')
      throw failed('Cannot write', path, { exitCode: NOT_A_FILE, stderr: 'not a regular file' });
  }
  const content = file.content ?? Buffer.alloc(0);
  const handle = await (await agent()).execute<number>('guest-file-open', { path, mode: 'w' });
  try {
    for (let at = 0; at < content.length;) {
      const part = content.subarray(at, at + CHUNK);
      const { count } = await (
        await agent()
      ).execute<{ count: number }>('guest-file-write', {
        handle,
        'buf-b64': part.toString('base64'),
      });
      if (!(count > 0)) throw new EngineError('INTERNAL', `Writing ${path} in the VM stalled`);
      at += count;
    }
  } finally {
    await (await agent()).execute('guest-file-close', { handle }).catch(() => {});
  }
  await own(0o644, false);
}

export async function removeFile(agent: AgentAccess, path: string): Promise<void> {
  checkPath(path);
  if (path.split('/').every((p) => p === '' || p === '.'))
    throw EngineError.invalid('path', 'cannot remove the root directory');
  const result = await runInGuest(agent, sh(REMOVE_SCRIPT, path));
  if (result.exitCode !== 0) throw failed('Cannot remove', path, result);
}
