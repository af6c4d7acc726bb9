// TLS for non-loopback listeners, as LXD does: the configured certificate,
// or a self-signed one generated into the data directory on first start
// (server.crt, server.key) and reused after, so its fingerprint stays the one
// operators were told to trust.
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  certPath: string;
  generated: boolean;
  /** SHA-256 of the certificate, written as LXD writes it (lower-case hex, no colons). */
  fingerprint: string;
  /** Set when the certificate does not name the address it is served on. */
  warning?: string;
}

/** A configuration mistake, named by its variable (as env.ts names them): shown without a stack. */
export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
  constructor(variable: string, reason: string) {
    super(`Environment variable ${variable}: ${reason}`);
  }
}

/** LXD's fingerprint format, from Node's `AB:CD:...`. */
export function lxdFingerprint(fingerprint256: string): string {
  return fingerprint256.replaceAll(':', '').toLowerCase();
}

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

/**
 * The subjectAltName a generated certificate carries: the listen address
 * (every local address when it is a wildcard), the host name and loopback.
 */
export function subjectAltNames(
  listenHost: string,
  hostname: string,
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {},
): string[] {
  const hosts = new Set<string>();
  if (isWildcard(listenHost)) {
    for (const info of Object.values(interfaces).flat()) {
      // Link-local v6 addresses need a zone, which a certificate cannot carry.
      if (info && !(info.family === 'IPv6' && info.address.startsWith('fe80:')))
        hosts.add(info.address);
    }
  } else {
    hosts.add(listenHost);
  }
  for (const host of [hostname, 'localhost', '127.0.0.1', '::1']) if (host) hosts.add(host);
  return [...hosts].map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`));
}

async function readNamed(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (error as Error).message;
    throw new TlsConfigError(what, `cannot read ${file} (${reason})`);
  }
}

/** Reads a certificate and its key, and checks both parse and belong together. */
async function readPair(
  files: { cert: string; key: string },
  names: { cert: string; key: string },
  listenHost: string,
  remedy = '',
): Promise<Omit<TlsFiles, 'generated'>> {
  const cert = await readNamed(files.cert, names.cert);
  const key = await readNamed(files.key, names.key);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new TlsConfigError(names.cert, `${files.cert} is not a PEM certificate${remedy}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsConfigError(
      names.key,
      `${files.key} is not a PEM private key (or it is encrypted: Berth needs it unencrypted)${remedy}`,
    );
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new TlsConfigError(
      names.key,
      `the key in ${files.key} does not match the certificate in ${files.cert}${remedy}`,
    );
  const named = isWildcard(listenHost)
    ? true
    : isIP(listenHost)
      ? x509.checkIP(listenHost) !== undefined
      : x509.checkHost(listenHost) !== undefined;
  return {
    cert,
    key,
    certPath: files.cert,
    fingerprint: lxdFingerprint(x509.fingerprint256),
    ...(named
      ? {}
      : {
          warning: `the certificate ${files.cert} does not name ${listenHost}: clients that check the name will refuse it`,
        }),
  };
}

/** The certificate given in BERTH_TLS_CERT / BERTH_TLS_KEY, checked. Reads only. */
export async function loadGivenTls(
  files: { cert: string; key: string },
  listenHost: string,
): Promise<TlsFiles> {
  const pair = await readPair(files, { cert: 'BERTH_TLS_CERT', key: 'BERTH_TLS_KEY' }, listenHost);
  return { ...pair, generated: false };
}

/** server.crt / server.key in the data directory, generated (self-signed) when missing. */
export async function loadGeneratedTls(dataDir: string, listenHost: string): Promise<TlsFiles> {
  const certPath = path.join(dataDir, 'server.crt');
  const keyPath = path.join(dataDir, 'server.key');
  const files = { cert: certPath, key: keyPath };
  const names = { cert: 'BERTH_DATA_DIR', key: 'BERTH_DATA_DIR' };
  const remedy = ' (remove server.crt and server.key to generate a new pair)';
  const present = await Promise.all(
    [certPath, keyPath].map((file) =>
      access(file).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (present.every(Boolean))
    return { ...(await readPair(files, names, listenHost, remedy)), generated: false };

  await mkdir(dataDir, { recursive: true });
  // Written under temporary names and renamed, so a failed run leaves no half pair.
  const tmpCert = `${certPath}.${process.pid}.tmp`;
  const tmpKey = `${keyPath}.${process.pid}.tmp`;
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        `/O=Berth/CN=root@${os.hostname()}`,
        '-addext',
        `subjectAltName=${subjectAltNames(listenHost, os.hostname(), os.networkInterfaces()).join(',')}`,
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { timeout: 30_000 },
    );
    await chmod(tmpKey, 0o600);
    await chmod(tmpCert, 0o644);
    await rename(tmpKey, keyPath);
    await rename(tmpCert, certPath);
  } catch (error) {
    await rm(tmpKey, { force: true });
    await rm(tmpCert, { force: true });
    const { stderr } = error as { stderr?: string };
    throw new TlsConfigError(
      'BERTH_LISTEN',
      `a non-loopback address needs TLS, and generating a self-signed certificate with openssl failed (${(stderr || (error as Error).message).trim()}); install openssl, or set BERTH_TLS_CERT and BERTH_TLS_KEY`,
    );
  }
  return { ...(await readPair(files, names, listenHost, remedy)), generated: true };
}
