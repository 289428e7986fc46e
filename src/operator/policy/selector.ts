/**
 * Label selectors with the API server's semantics (metav1.LabelSelectorAsSelector): matchLabels
 * and every matchExpression must all hold; an empty selector `{}` selects everything; an absent
 * selector selects nothing. Pure: used to count the pods a TokenPolicy protects.
 */
import type { LabelSelector } from '../../policy/types.js';

type Labels = Readonly<Record<string, string>> | undefined;
type Requirement = NonNullable<LabelSelector['matchExpressions']>[number];

function requirementHolds(req: Requirement, labels: Labels): boolean {
  const present = labels !== undefined && Object.hasOwn(labels, req.key);
  const value = present ? labels[req.key] : undefined;
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return present && values.includes(value as string);
    case 'NotIn':
      // As in Kubernetes: a pod without the label is "not in" any set of values.
      return !present || !values.includes(value as string);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      // An operator the schema should have refused: select nothing rather than everything.
      return false;
  }
}

export function matchesSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (selector === undefined || selector === null) return false;
  for (const [key, want] of Object.entries(selector.matchLabels ?? {})) {
    if (labels === undefined || labels[key] !== want) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => requirementHolds(req, labels));
}

/** The subset of a Pod the operator looks at. */
export interface PodView {
  metadata?: { labels?: Record<string, string>; deletionTimestamp?: unknown };
  status?: { phase?: string };
}

/**
 * A pod counts while it can still serve: not terminated (Succeeded/Failed) and not being
 * deleted. Pending pods count — they will run the sidecar once scheduled.
 */
export function isLivePod(pod: PodView): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

export function countMatchedPods(selector: LabelSelector | undefined, pods: readonly PodView[]): number {
  let n = 0;
  for (const pod of pods) if (isLivePod(pod) && matchesSelector(selector, pod.metadata?.labels)) n++;
  return n;
}
