import type { FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { issueServingCertificate } from '../../../../src/operator/serving/certificate.js';
import { createServingServer, type ServingServer } from '../../../../src/operator/serving/server.js';

const want = { dnsNames: ['tokenwarden.ops.svc'], ipAddresses: ['127.0.0.1'] };
let server: ServingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The certificate the server presents to a client that trusts `caPem`. */
function peerCert(port: number, caPem: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: caPem, servername: 'tokenwarden.ops.svc' }, () => {
      const raw = s.getPeerX509Certificate();
      s.end();
      if (raw === undefined) reject(new Error('no peer certificate'));
      else resolve(raw);
    });
    s.on('error', reject);
  });
}

describe('createServingServer', () => {
  it('serves the registered plugins over TLS and swaps the certificate on reload', async () => {
    const first = issueServingCertificate(want, Date.now());
    server = await createServingServer({
      tls: first,
      log: pino({ level: 'silent' }),
      plugins: [
        {
          plugin: (app: FastifyInstance) => {
            app.get('/hello', () => Promise.resolve({ hello: 'world' }));
            return Promise.resolve();
          },
        },
      ],
    });
    const reply = await server.app.inject({ method: 'GET', url: '/hello' });
    expect(reply.json()).toEqual({ hello: 'world' });
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    expect((await peerCert(port, first.caPem)).serialNumber).toBe(
      new X509Certificate(first.certPem).serialNumber,
    );

    const second = issueServingCertificate(want, Date.now(), first);
    server.reload(second);
    expect((await peerCert(port, first.caPem)).serialNumber).toBe(
      new X509Certificate(second.certPem).serialNumber,
    );
  });
});
