/**
 * A throwaway P-256 key and self-signed certificate for 127.0.0.1 in `dir` (key.pem, cert.pem),
 * made with the openssl CLI: what the stream benches serve HTTPS with.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function selfSignedP256(dir: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
}
