/**
 * The TokenPolicies this replica knows (the informer cache) and the two questions every part of
 * the operator asks about them, answered here once: is this object valid (`validated`), and
 * which policy selects this pod (`policyFor`). The reconciler, the config stream and the
 * admission webhook all ask the catalog; none keeps its own copy, so the webhook never injects
 * a sidecar for one policy while the stream serves it another.
 */
import type { ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { LabelSelector, TokenPolicy } from '../../policy/types.js';
import type { RawObject } from '../runtime/informers.js';
import { objectKey } from '../runtime/k8s.js';
import { checkSpec, type SpecCheck } from './readiness.js';
import { matchesSelector } from './selector.js';

/** What the catalog knows about one generation of a policy. */
export interface PolicyCheck {
  /** This generation's spec: validated and compiled, or why not. */
  readonly spec: SpecCheck;
  /**
   * The last spec of this policy that validated: this generation's, or an earlier one's when
   * this one is invalid (fail-static: a bad edit never loosens what sidecars enforce).
   */
  readonly lastValid: TokenPolicy | undefined;
  /** Why this generation is invalid; '' when it validated. */
  readonly problem: string;
}

/** The pod facts selection looks at: its namespace and labels, nothing else. */
export interface PodLabels {
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

export interface Selection {
  /** namespace/name */
  readonly key: string;
  readonly name: string;
  readonly targetPort: number;
  /** The selected policy's spec as stored (the webhook reads its shared reuse store's Secrets). */
  readonly spec: unknown;
  /** The names of every selecting policy, sorted, when more than one selects the pod. */
  readonly conflicting: readonly string[];
}

interface Entry {
  readonly object: RawObject;
  readonly stamp: string;
  readonly check: PolicyCheck;
}

const stampOf = (obj: RawObject): string => `${obj.metadata?.uid ?? ''}/${obj.metadata?.generation ?? ''}`;

function rawSpec(obj: RawObject): { selector?: unknown; targetPort?: unknown } | undefined {
  const spec = obj.spec as { selector?: unknown; targetPort?: unknown } | undefined;
  return typeof spec === 'object' && spec !== null ? spec : undefined;
}

/** The selector as stored, whatever the rest of the spec; absent or malformed selects nothing. */
export function rawSelector(obj: RawObject): LabelSelector | undefined {
  const sel = rawSpec(obj)?.selector;
  return typeof sel === 'object' && sel !== null && !Array.isArray(sel) ? sel : undefined;
}

export class PolicyCatalog {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly policies: Pick<ObjectCache<RawObject>, 'get' | 'list'>,
    private readonly log?: Logger,
  ) {}

  get(namespace: string, name: string): RawObject | undefined {
    return this.policies.get(name, namespace);
  }

  list(namespace: string): readonly RawObject[] {
    return this.policies.list(namespace);
  }

  /**
   * The check of `obj`, computed once per uid/generation (generation moves with every spec
   * change and only then; uid tells a re-created object apart) or per object when the API
   * server gave no generation.
   */
  validated(obj: RawObject): PolicyCheck {
    const key = objectKey(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    const stamp = stampOf(obj);
    const cached = this.entries.get(key);
    if (
      cached !== undefined &&
      (cached.object === obj || (cached.stamp === stamp && obj.metadata?.generation !== undefined))
    )
      return cached.check;
    const spec = checkSpec(obj);
    // checkSpec keeps `policy` when the spec validated but did not compile: it is still served.
    const valid = spec.policy;
    const problem = valid === undefined && !spec.ok ? spec.ready.message : '';
    if (valid === undefined)
      this.log?.warn({ policy: key, problem }, 'policy invalid; sidecars keep its last valid config');
    const check: PolicyCheck = { spec, lastValid: valid ?? cached?.check.lastValid, problem };
    this.entries.set(key, { object: obj, stamp, check });
    return check;
  }

  /** The policy is gone: forget its checks (a re-created one starts afresh). */
  forget(key: string): void {
    this.entries.delete(key);
  }

  /**
   * The TokenPolicy that selects `pod`: among the policies of the pod's own namespace (never
   * another's) with a target port whose selector matches the pod's labels, the first by name in
   * code-unit order. Several selecting one pod is a user error; first-by-name settles it the
   * same way for every caller, on every replica, without coordination.
   */
  policyFor(pod: PodLabels): Selection | undefined {
    let first: { name: string; targetPort: number; spec: unknown } | undefined;
    const names: string[] = [];
    for (const obj of this.policies.list(pod.namespace)) {
      const targetPort = rawSpec(obj)?.targetPort;
      if (typeof targetPort !== 'number' || !matchesSelector(rawSelector(obj), pod.labels)) continue;
      const name = obj.metadata?.name ?? '';
      names.push(name);
      if (first === undefined || name < first.name) first = { name, targetPort, spec: obj.spec };
    }
    if (first === undefined) return undefined;
    return {
      key: objectKey(pod.namespace, first.name),
      name: first.name,
      targetPort: first.targetPort,
      spec: first.spec,
      conflicting: names.length > 1 ? names.sort() : [],
    };
  }
}
