// Self-signed certificates for tests (a given BERTH_TLS_CERT, an HTTPS
// OpenID provider), made by openssl(1) from the host.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** Writes `<name>.crt` and `<name>.key` (P-256, unencrypted) into `dir`. */
export function selfSignedCertificate(
  dir: string,
  name: string,
  options: { commonName: string; subjectAltName?: string },
): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const made = spawnSync(
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
      '2',
      '-subj',
      `/CN=${options.commonName}`,
      ...(options.subjectAltName ? ['-addext', `subjectAltName=${options.subjectAltName}`] : []),
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (made.status !== 0) throw new Error(`openssl req failed: ${made.stderr || made.error}`);
  return { cert, key };
}
