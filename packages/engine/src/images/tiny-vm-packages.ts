// The Debian packages the tiny VM image is made of: the archive's kernel and
// qemu-guest-agent, fetched with apt-get download into a cache and unpacked
// there with dpkg -x (once each), and the host's copies of the libraries
// `ldd` lists for qemu-ga (a Debian 12 host has the ones the package was
// built against).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import type { TreeEntry } from './tiny-vm-tree.ts';

/** The libraries in `ldd` output: `name => /path (addr)` and `/path (addr)` lines; vdso has no file. */
export function parseLdd(output: string): string[] {
  const files: string[] = [];
  for (const line of output.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line.trim());
    if (match?.[1] && !files.includes(match[1])) files.push(match[1]);
  }
  return files;
}

/** The newest `linux-image-6.1.0-N-amd64` (not -cloud, -rt) the archive offers. */
export function pickKernelPackage(aptCacheOutput: string): string | undefined {
  const names = aptCacheOutput
    .split('\n')
    .map((line) => line.split(' ')[0]?.trim() ?? '')
    .filter((name) => /^linux-image-6\.1\.0-[0-9]+-amd64$/.test(name));
  names.sort((a, b) => Number(/-(\d+)-amd64$/.exec(b)?.[1]) - Number(/-(\d+)-amd64$/.exec(a)?.[1]));
  return names[0];
}

/** The cached .deb of `name`, downloaded with apt-get download when missing. */
async function cachedDeb(name: string, cacheDir: string, signal?: AbortSignal): Promise<string> {
  const opts = { timeoutMs: 120_000, ...(signal ? { signal } : {}) };
  const find = async () =>
    (await readdir(cacheDir)).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  const cached = await find();
  if (cached) return path.join(cacheDir, cached);
  await runCommand('apt-get', ['download', name], { ...opts, cwd: cacheDir });
  const deb = await find();
  if (!deb)
    throw new EngineError('INTERNAL', `apt-get download ${name} left no .deb in ${cacheDir}`);
  return path.join(cacheDir, deb);
}

/** `<deb>.x/`: the package unpacked with dpkg -x (once; renamed into place whole). */
export async function unpackedDeb(deb: string, signal?: AbortSignal): Promise<string> {
  const extracted = `${deb.slice(0, -'.deb'.length)}.x`;
  if (existsSync(path.join(extracted, '.complete'))) return extracted;
  const tmp = `${extracted}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await runCommand('dpkg', ['-x', deb, tmp], { timeoutMs: 120_000, ...(signal ? { signal } : {}) });
  await writeFile(path.join(tmp, '.complete'), '');
  await rm(extracted, { recursive: true, force: true });
  await rename(tmp, extracted);
  return extracted;
}

/** The cached .deb of the archive's newest plain amd64 6.1 kernel. */
export async function kernelPackage(cacheDir: string, signal?: AbortSignal): Promise<string> {
  const opts = { timeoutMs: 120_000, ...(signal ? { signal } : {}) };
  const search = await runCommand(
    'apt-cache',
    ['search', '--names-only', '^linux-image-6\\.1\\.0-[0-9]+-amd64$'],
    opts,
  );
  const name = pickKernelPackage(search.stdout);
  if (!name) {
    throw new EngineError(
      'NOT_FOUND',
      'No linux-image-6.1.0-*-amd64 package in the apt cache (run apt-get update)',
    );
  }
  return cachedDeb(name, cacheDir, signal);
}

/** qemu-ga and the libraries it loads, as tree files (libraries from the host, at the paths ldd names). */
export async function agentEntries(cacheDir: string, signal?: AbortSignal): Promise<TreeEntry[]> {
  const deb = await cachedDeb('qemu-guest-agent', cacheDir, signal);
  const agent = path.join(await unpackedDeb(deb, signal), 'usr', 'sbin', 'qemu-ga');
  if (!existsSync(agent)) throw new EngineError('INTERNAL', `No usr/sbin/qemu-ga in ${deb}`);
  const ldd = await runCommand('ldd', [agent], {
    timeoutMs: 30_000,
    ...(signal ? { signal } : {}),
  });
  if (/not found/.test(ldd.stdout)) {
    throw new EngineError(
      'NOT_FOUND',
      `qemu-ga needs libraries this host lacks: ${ldd.stdout
        .split('\n')
        .filter((l) => l.includes('not found'))
        .map((l) => l.trim())
        .join(', ')}`,
    );
  }
  const entries: TreeEntry[] = [
    { path: 'usr/sbin/qemu-ga', type: 'file', mode: 0o755, data: readFileSync(agent) },
  ];
  for (const lib of parseLdd(ldd.stdout)) {
    entries.push({
      path: lib.replace(/^\/+/, ''),
      type: 'file',
      mode: 0o755,
      data: readFileSync(realpathSync(lib)),
    });
  }
  return entries;
}
