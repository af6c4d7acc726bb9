// TLS for non-loopback listeners, as LXD does: the configured certificate,
// or a self-signed one generated into the data directory on first start.
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  certPath: string;
  generated: boolean;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

export async function loadTls(
  dataDir: string,
  configured: { cert: string; key: string } | undefined,
): Promise<TlsFiles> {
  if (configured) {
    return {
      cert: await readFile(configured.cert),
      key: await readFile(configured.key),
      certPath: configured.cert,
      generated: false,
    };
  }
  const certPath = path.join(dataDir, 'server.crt');
  const keyPath = path.join(dataDir, 'server.key');
  let generated = false;
  if (!(await exists(certPath)) || !(await exists(keyPath))) {
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
          '-keyout',
          keyPath,
          '-out',
          certPath,
        ],
        { timeout: 30_000 },
      );
    } catch (error) {
      throw new Error(
        `Listening on a non-loopback address needs TLS: set BERTH_TLS_CERT and BERTH_TLS_KEY, or install openssl so Berth can generate a self-signed certificate (${(error as Error).message})`,
      );
    }
    generated = true;
  }
  return { cert: await readFile(certPath), key: await readFile(keyPath), certPath, generated };
}
