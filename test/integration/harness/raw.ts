/**
 * A raw HTTPS request to the API server with a KubeConfig's credentials.
 *
 * For what the typed client cannot do faithfully: its serializer writes objects through the
 * generated models, and a plain object in wire form loses every field whose model name differs
 * from the wire name (`enum` vs `_enum`, `default` vs `_default`, `x-kubernetes-validations` vs
 * `xKubernetesValidations`) wherever the model is typed. A CRD sent that way arrives without
 * its enums, defaults and CEL rules. Also for `Accept: ...;as=Table` (printer columns).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { request, type RequestOptions } from 'node:https';

export interface KubeRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/apis/apiextensions.k8s.io/v1/customresourcedefinitions`. */
  path: string;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
  contentType?: string;
  accept?: string;
}

export interface KubeResponse {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

export async function kubeRequest(kc: KubeConfig, req: KubeRequest): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + req.path);
  const payload =
    req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  const headers: Record<string, string> = { Accept: req.accept ?? 'application/json' };
  if (payload !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
  const opts: RequestOptions = { method: req.method ?? 'GET', headers };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const r = request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, json: <T>() => JSON.parse(body) as T }),
      );
    });
    r.on('error', reject);
    r.end(payload);
  });
}
