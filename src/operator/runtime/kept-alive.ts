/**
 * API server calls over kept-alive connections. client-node builds a new HTTPS agent for every
 * call (`applySecurityAuthentication`), so each status write, lease renewal and list paid a TLS
 * handshake and a new secure context: profiled during a 1,000-sidecar push, that was most of the
 * operator's CPU outside the stream. Here one agent serves every call for as long as the CA, the
 * client certificate and key, the verification setting and the server name stay the same (a
 * rotated certificate gets a new agent; the old one is closed). Credentials that travel as
 * headers (a rotating ServiceAccount token, an exec plugin's token) are still asked of the
 * kubeconfig for every call. Proxied clusters and plain-http test servers keep the library's own
 * agent.
 */
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

/** The TLS settings an agent is built from: what the kubeconfig gives for one call. */
export interface AgentTls {
  readonly ca?: string | Buffer | (string | Buffer)[] | undefined;
  readonly cert?: string | Buffer | (string | Buffer)[] | undefined;
  readonly key?: unknown;
  readonly rejectUnauthorized?: boolean | undefined;
  readonly servername?: string | undefined;
}

/** One kept-alive agent at a time, rebuilt when the TLS settings it was built from change. */
export class KeptAliveAgent {
  #agent: http.Agent | undefined;
  #builtFor = '';

  constructor(private readonly o: { readonly tls: boolean; readonly maxSockets?: number }) {}

  for(tls: AgentTls): http.Agent {
    const id = createHash('sha256')
      .update(JSON.stringify([tls.ca, tls.cert, tls.key, tls.rejectUnauthorized, tls.servername]))
      .digest('hex');
    if (this.#agent !== undefined && id === this.#builtFor) return this.#agent;
    this.#agent?.destroy();
    this.#builtFor = id;
    const pool = {
      keepAlive: true,
      ...(this.o.maxSockets === undefined ? {} : { maxSockets: this.o.maxSockets }),
    };
    this.#agent = this.o.tls
      ? new https.Agent({
          ...pool,
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          ...(tls.cert === undefined ? {} : { cert: tls.cert }),
          ...(tls.key === undefined ? {} : { key: tls.key as https.AgentOptions['key'] }),
          ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
          ...(tls.servername === undefined ? {} : { servername: tls.servername }),
        })
      : new http.Agent(pool);
    return this.#agent;
  }

  destroy(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }
}

/** A KubeConfig whose generated API clients reuse one kept-alive HTTPS agent. */
export class KeptAliveKubeConfig extends KubeConfig {
  readonly #agent = new KeptAliveAgent({ tls: true });

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    // Only the library's plain HTTPS agent is replaced: proxy agents and http:// keep theirs.
    if (fresh === undefined || fresh.constructor !== https.Agent) return;
    context.setAgent(this.#agent.for(fresh.options));
  }
}
