/**
 * What the webhook answers one well-formed AdmissionReview (review.ts checks the form), pure:
 * the policy lookup, the seal and the namespace policy in, an AdmissionResponse out. The HTTP
 * side is routes.ts.
 *
 * CREATE of a Pod a TokenPolicy selects:
 * - already carrying a valid seal (a reinvocation after another webhook): left as is;
 * - carrying injected-looking containers or annotations without a valid seal: a look-alike,
 *   refused (a permissive namespace lets it through, counted as unprotected);
 * - opted out, or asking for `capture: none` against the chart's default: refused unless the
 *   namespace is permissive (the platform team decides, not the pod author);
 * - with an app container that could undo capture (core/unsafe.ts): refused, or in a permissive
 *   namespace injected with a warning and counted;
 * - otherwise injected (inject.ts) and sealed (core/seal.ts).
 * UPDATE (only what the pod spec lets change: images, annotations, ephemeral containers): a pod
 * whose seal was valid must keep it valid, and ephemeral containers added to a sealed pod must be
 * safe. With the policy cache not synced every CREATE is refused (never fail open).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { WebhookResult } from '../../metrics/webhook.js';
import { ANNOTATION_CAPTURE, optedOut, type NamespacePolicy } from '../../core/injection.js';
import { ANNOTATION_SEAL, computeSeal, injectionState } from '../../core/seal.js';
import { describeFindings, unsafeAppContainers, type UnsafeFinding } from '../../core/unsafe.js';
import { injectSidecar, type InjectionReport, type InjectionSettings } from './inject.js';
import type { LookupPolicy } from './lookup.js';
import { diff, type JsonValue } from './patch.js';
import type { AdmissionRequest } from './review.js';

export type { AdmissionRequest } from './review.js';

/** Why a request was answered as it was, beside inject.ts's reasons. */
export type ScopeReason = 'not_reviewed' | 'no_policy' | 'not_ready' | 'update_allowed';
export type IntegrityReason =
  | 'lookalike'
  | 'opted_out'
  | 'opt_out_not_allowed'
  | 'capture_mode_not_allowed'
  | 'unsafe_app_container'
  | 'seal_broken';
export type AdmissionReason = ScopeReason | IntegrityReason | InjectionReport['reason'];

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: { code: number; message: string };
  warnings?: string[];
}

export interface AdmissionContext {
  /** Read per request: the CA PEM changes when the serving certificate does. */
  readonly settings: () => InjectionSettings;
  readonly lookupPolicy: LookupPolicy;
  /** The seal key (operator Secret); see core/seal.ts. */
  readonly sealKey: Uint8Array;
}

/** The decision for one request, without HTTP: what the plugin answers and counts. */
export interface AdmissionDecision {
  readonly result: Exclude<WebhookResult, 'error'>;
  readonly reason: AdmissionReason;
  readonly response: AdmissionResponse;
  readonly policy?: string;
}

const MAX_WARNING = 250;

const allow = (uid: string, reason: AdmissionReason, warnings?: string[]): AdmissionDecision => ({
  result: 'skipped',
  reason,
  response: { uid, allowed: true, ...(warnings === undefined ? {} : { warnings }) },
});

function refuse(uid: string, reason: AdmissionReason, message: string): AdmissionDecision {
  return {
    result: 'refused',
    reason,
    response: { uid, allowed: false, status: { code: 403, message: `tokenwarden: ${message}` } },
  };
}

const warn = (message: string): string[] => [`tokenwarden: ${message}`.slice(0, MAX_WARNING)];

export function decideAdmission(
  req: AdmissionRequest,
  ctx: AdmissionContext,
  nsPolicy: NamespacePolicy = 'strict',
): AdmissionDecision {
  const isPod = req.kind.group === '' && req.kind.kind === 'Pod';
  if (!isPod || req.object === undefined) return allow(req.uid, 'not_reviewed');
  if (req.operation === 'UPDATE') return decideUpdate(req, ctx, nsPolicy);
  if (req.operation !== 'CREATE' || (req.subResource ?? '') !== '') return allow(req.uid, 'not_reviewed');
  return decideCreate(req, req.object, ctx, nsPolicy);
}

function decideCreate(
  req: AdmissionRequest,
  pod: V1Pod,
  ctx: AdmissionContext,
  nsPolicy: NamespacePolicy,
): AdmissionDecision {
  const found = ctx.lookupPolicy(req.namespace, pod.metadata?.labels);
  if (found.status === 'not_ready') {
    return refuse(req.uid, 'not_ready', 'the operator has not loaded its TokenPolicies yet; retry');
  }
  if (found.status === 'none') return allow(req.uid, 'no_policy');
  const policy = found.policy.name;
  const strict = nsPolicy === 'strict';
  const state = injectionState(pod, req.namespace, ctx.sealKey);
  const unsafe = unsafeAppContainers(pod);
  const d = decideSelected(req, pod, ctx, { strict, state, unsafe, policy: found.policy });
  return { ...d, policy };
}

interface Selected {
  readonly strict: boolean;
  readonly state: ReturnType<typeof injectionState>;
  readonly unsafe: readonly UnsafeFinding[];
  readonly policy: { readonly name: string; readonly targetPort: number };
}

function decideSelected(
  req: AdmissionRequest,
  pod: V1Pod,
  ctx: AdmissionContext,
  s: Selected,
): AdmissionDecision {
  const unsafeText = describeFindings(s.unsafe);
  const unsafeMessage = `${unsafeText}: such a container can undo traffic capture or read the sidecar's files`;
  if (s.state === 'sealed') {
    // A reinvocation: our injection is intact; a later webhook may have added a container.
    if (s.unsafe.length > 0 && s.strict) return refuse(req.uid, 'unsafe_app_container', unsafeMessage);
    return allow(req.uid, 'sidecar_already_exists');
  }
  if (s.state === 'lookalike') {
    const message =
      'the pod carries a tokenwarden-sidecar/tokenwarden-capture container or a tokenwarden.dev/seal or ' +
      'tokenwarden.dev/injected annotation that the operator did not inject; remove them and let the webhook inject';
    return s.strict ? refuse(req.uid, 'lookalike', message) : allow(req.uid, 'lookalike', warn(message));
  }
  const settings = ctx.settings();
  if (optedOut(pod)) {
    if (!s.strict) return allow(req.uid, 'opted_out', warn('pod opted out: counted as unprotected'));
    return refuse(
      req.uid,
      'opt_out_not_allowed',
      `policy ${s.policy.name} selects this pod and its namespace does not allow opting out ` +
        '(tokenwarden.dev/inject: "false"); ask the platform team, or change the pod labels',
    );
  }
  const capture = pod.metadata?.annotations?.[ANNOTATION_CAPTURE];
  if (
    s.strict &&
    capture !== undefined &&
    capture !== settings.defaultCaptureMode &&
    capture !== 'iptables'
  ) {
    return refuse(
      req.uid,
      'capture_mode_not_allowed',
      `${ANNOTATION_CAPTURE}: "${capture}" is not allowed in this namespace (the platform's default is ` +
        `"${settings.defaultCaptureMode}"); remove the annotation`,
    );
  }
  if (s.unsafe.length > 0 && s.strict) return refuse(req.uid, 'unsafe_app_container', unsafeMessage);
  return inject(req, pod, s, settings, ctx.sealKey, s.unsafe.length > 0 ? warn(unsafeMessage) : undefined);
}

function inject(
  req: AdmissionRequest,
  pod: V1Pod,
  s: Selected,
  settings: InjectionSettings,
  key: Uint8Array,
  warnings: string[] | undefined,
): AdmissionDecision {
  const { pod: mutated, report } = injectSidecar(pod, s.policy, settings);
  if (report.outcome === 'refused') return refuse(req.uid, report.reason, report.message);
  if (report.outcome === 'unchanged') return allow(req.uid, report.reason);
  // Other steps that change the pod go here, before the seal (it covers the injected containers).
  seal(mutated, req.namespace, key);
  const ops = diff(pod as unknown as JsonValue, mutated as unknown as JsonValue);
  return {
    result: 'injected',
    reason: report.reason,
    response: {
      uid: req.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
      ...(warnings === undefined ? {} : { warnings }),
    },
  };
}

function seal(pod: V1Pod, namespace: string, key: Uint8Array): void {
  pod.metadata ??= {};
  pod.metadata.annotations = {
    ...pod.metadata.annotations,
    [ANNOTATION_SEAL]: computeSeal(pod, namespace, key),
  };
}

function decideUpdate(
  req: AdmissionRequest,
  ctx: AdmissionContext,
  nsPolicy: NamespacePolicy,
): AdmissionDecision {
  const before = req.oldObject;
  const after = req.object;
  if (before === undefined || after === undefined) return allow(req.uid, 'not_reviewed');
  const wasSealed = injectionState(before, req.namespace, ctx.sealKey) === 'sealed';
  if (!wasSealed) return allow(req.uid, 'update_allowed');
  if (injectionState(after, req.namespace, ctx.sealKey) !== 'sealed') {
    return refuse(
      req.uid,
      'seal_broken',
      'this update changes what the tokenwarden webhook injected (the sidecar or capture container, or the ' +
        'tokenwarden.dev/seal annotation); delete and re-create the pod instead',
    );
  }
  if (req.subResource === 'ephemeralcontainers' && nsPolicy === 'strict') {
    const known = new Set((before.spec?.ephemeralContainers ?? []).map((c) => c.name));
    const added = (after.spec?.ephemeralContainers ?? []).filter((c) => !known.has(c.name));
    const findings = unsafeAppContainers({ spec: { ephemeralContainers: added } });
    if (findings.length > 0) {
      return refuse(
        req.uid,
        'unsafe_app_container',
        `${describeFindings(findings)}: an ephemeral container with these can undo traffic capture`,
      );
    }
  }
  return allow(req.uid, 'update_allowed');
}
