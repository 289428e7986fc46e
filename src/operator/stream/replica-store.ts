/**
 * The replicas' summaries in one ConfigMap of fixed name (REPLICAS_CONFIGMAP, created by the
 * chart), one data key per replica, so that RBAC can name the only ConfigMap the operator
 * touches (`get` and `patch` on that name; no create, update, delete or list of ConfigMaps).
 *
 * - A replica writes its key by server-side apply under a field manager of its own
 *   (replicaFieldManager): the API server merges the keys of the different managers, so
 *   replicas never overwrite each other and need no read-modify-write.
 * - A stale key of a dead replica is removed by a JSON patch whose `test` op carries the value
 *   judged stale: if that replica came back and wrote since, the patch fails and nothing is lost.
 * - A replica that stops applies an empty configuration under its manager, which removes the
 *   fields that manager owned: its own key, nothing else.
 *
 * The ConfigMap missing (chart not installed, deleted by hand) is reported by the caller's
 * warning; the operator keeps serving and only the aggregated status across replicas lags.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { REPLICAS_CONFIGMAP, replicaFieldManager } from './summary.js';

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

export class ReplicaStore {
  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
    readonly name = REPLICAS_CONFIGMAP,
  ) {}

  /** Set `key` to `text`, owned by that key's field manager. */
  async write(key: string, text: string): Promise<void> {
    await this.apply(key, { [key]: text });
  }

  /** Every key's text (missing ConfigMap: an error, with the API's 404). */
  async readAll(): Promise<Record<string, string>> {
    const cm = await this.core.readNamespacedConfigMap({ name: this.name, namespace: this.namespace });
    return cm.data ?? {};
  }

  /** Drop `key` if it still holds `seen` (false: it changed or is gone, nothing removed). */
  async removeIf(key: string, seen: string): Promise<boolean> {
    const path = `/data/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    try {
      await this.core.patchNamespacedConfigMap(
        {
          name: this.name,
          namespace: this.namespace,
          body: [
            { op: 'test', path, value: seen },
            { op: 'remove', path },
          ],
        },
        JSON_PATCH,
      );
      return true;
    } catch (err) {
      // 422: the test failed (the replica wrote since, or another replica removed it).
      if ((err as { code?: unknown }).code === 422) return false;
      throw err;
    }
  }

  /** Remove everything `key`'s manager owns: that key only. */
  async release(key: string): Promise<void> {
    await this.apply(key, undefined);
  }

  private async apply(key: string, data: Record<string, string> | undefined): Promise<void> {
    await this.core.patchNamespacedConfigMap(
      {
        name: this.name,
        namespace: this.namespace,
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: this.name, namespace: this.namespace },
          ...(data === undefined ? {} : { data }),
        },
        fieldManager: replicaFieldManager(key),
        force: true,
      },
      APPLY,
    );
  }
}
