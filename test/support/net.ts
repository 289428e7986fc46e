/** Loopback helpers shared by the test projects. */
import { createServer, type AddressInfo } from 'node:net';

/** A free loopback port (closed again; the caller binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
