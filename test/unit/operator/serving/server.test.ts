import type { FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { issueServingCertificate } from '../../../../src/operator/serving/certificate.js';
import {
  createServingServer,
  ticketKeysFor,
  type ServingServer,
} from '../../../../src/operator/serving/server.js';

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

/** Connects once (keeping the session ticket it is given), then resumes with `session`. */
function handshake(
  port: number,
  caPem: string,
  session?: Buffer,
): Promise<{ resumed: boolean; ticket?: Buffer }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const s = connect({
      host: '127.0.0.1',
      port,
      ca: caPem,
      servername: 'tokenwarden.ops.svc',
      ...(session ? { session } : {}),
    });
    s.on('session', (t: Buffer) => (ticket = t));
    s.on('secureConnect', () => {
      const resumed = s.isSessionReused();
      // Tickets follow the handshake: give them a moment before closing.
      setTimeout(() => {
        s.end();
        resolve({ resumed, ...(ticket === undefined ? {} : { ticket }) });
      }, 50);
    });
    s.on('error', reject);
  });
}

describe('TLS session resumption', () => {
  it('ticket keys follow the serving key: equal for one key, different for another, 48 bytes', () => {
    const a = issueServingCertificate(want, Date.now());
    const b = issueServingCertificate(want, Date.now());
    expect(ticketKeysFor(a.keyPem)).toEqual(ticketKeysFor(a.keyPem));
    expect(ticketKeysFor(a.keyPem)).toHaveLength(48);
    expect(ticketKeysFor(a.keyPem).equals(ticketKeysFor(b.keyPem))).toBe(false);
  });

  it('another server with the same key resumes a session; one with a new key does a full handshake', async () => {
    const tls = issueServingCertificate(want, Date.now());
    const log = pino({ level: 'silent' });
    server = await createServingServer({ tls, log });
    const first = await handshake((await server.listen({ host: '127.0.0.1', port: 0 })).port, tls.caPem);
    expect(first.resumed).toBe(false);
    expect(first.ticket).toBeDefined();
    await server.close();
    server = await createServingServer({ tls, log });
    const port = (await server.listen({ host: '127.0.0.1', port: 0 })).port;
    expect((await handshake(port, tls.caPem, first.ticket)).resumed).toBe(true);
    // Renewed with a new key (same CA): the old ticket is refused, the handshake is a full one.
    server.reload(issueServingCertificate(want, Date.now(), tls));
    expect((await handshake(port, tls.caPem, first.ticket)).resumed).toBe(false);
  });
});
