/**
 * Shapes of the tokenwarden.dev/v1alpha1 API as they arrive (after validation) and as the
 * request path uses them (after compilation). Validation: validate.ts; compilation: compile.ts.
 */
import type { JWK } from 'jose';
import type { TrustedProxies } from './cidr.js';

export const API_GROUP = 'tokenwarden.dev';
export const API_VERSION = 'tokenwarden.dev/v1alpha1';

/** Asymmetric JOSE algorithms only: `none` and HS* are never accepted anywhere. */
export const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
export const DEFAULT_ALGORITHMS: readonly Algorithm[] = ['RS256', 'ES256'];

export type Mode = 'Enforce' | 'Audit';
export type RuleAction = 'Allow' | 'Authenticate' | 'Deny';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

export interface IssuerSpec {
  issuer: string;
  audiences: string[];
  jwksUri?: string;
  discovery?: boolean;
  jwks?: { keys: JWK[] };
  algorithms?: Algorithm[];
  /** RFC 8725 §3.11: accepted `typ` header values (`at+jwt` for RFC 9068 access tokens). */
  expectedTypes?: string[];
  /** Revocations this issuer pushes to the operator (docs/adr/0009-identity-provider-events.md). */
  receiver?: ReceiverSpec;
}

/**
 * The identity-provider events a receiver turns into TokenRevocations: OpenID Connect
 * Back-Channel Logout 1.0, and the CAEP / RISC events of the Shared Signals Framework.
 */
export const RECEIVER_EVENTS = [
  'BackchannelLogout',
  'SessionRevoked',
  'CredentialChange',
  'AccountDisabled',
] as const;
export type ReceiverEvent = (typeof RECEIVER_EVENTS)[number];

export interface ReceiverSpec {
  /** The `aud` the issuer puts in its logout tokens (the client_id) or SETs (the receiver's audience). */
  audience: string;
  /** Which events are acted on; any other event is refused. */
  events: ReceiverEvent[];
}

export interface ExpirySpec {
  requireExp?: boolean;
  clockSkewSeconds?: number;
  maxTokenAgeSeconds?: number;
  maxLifetimeSeconds?: number;
}

export interface RuleSpec {
  name: string;
  paths: string[];
  methods?: string[];
  action: RuleAction;
  requiredScopes?: string[];
  requiredClaims?: Record<string, string>;
}

export interface ForwardClaimSpec {
  claim: string;
  header: string;
}

/** `spec.paths.matrixParameters`: what a `;` parameter in a path segment does (ADR 0007). */
export type MatrixParameters = 'Reject' | 'Strip';
export const MATRIX_PARAMETERS: readonly MatrixParameters[] = ['Reject', 'Strip'];

/** How request paths are read before rules match them (README "Path forms"). */
export interface PathsSpec {
  /** Rules match paths case-insensitively (for apps whose router ignores case). Default false. */
  caseInsensitive?: boolean;
  /** Reject (default): 400. Strip: removed before matching and forwarding. */
  matrixParameters?: MatrixParameters;
}

/** Request header handling. */
export interface HttpSpec {
  /** Forward headers whose names contain `_` (dropped by default, as nginx and Envoy do). */
  allowUnderscoreHeaders?: boolean;
}

/** `spec.reuse.sharedStore.mode`: how the Valkey/Redis deployment is reached. */
export type SharedStoreMode = 'Standalone' | 'Sentinel' | 'Cluster';
export const SHARED_STORE_MODES: readonly SharedStoreMode[] = ['Standalone', 'Sentinel', 'Cluster'];
/** `spec.reuse.sharedStore.whenUnavailable`. */
export type WhenUnavailable = 'Refuse' | 'CountPerPod';
export const WHEN_UNAVAILABLE: readonly WhenUnavailable[] = ['Refuse', 'CountPerPod'];

/** A key of a Secret in the policy's namespace. */
export interface SecretKeyRef {
  name: string;
  key?: string;
}

/** A Valkey/Redis deployment every sidecar of the policy counts uses in (ADR 0010). */
export interface SharedStoreSpec {
  mode: SharedStoreMode;
  /** `host:port` (`[::1]:6379` for an IPv6 literal): the server, the sentinels or the cluster's seed nodes. */
  addresses: string[];
  /** The master group name the sentinels know (Sentinel only). */
  sentinelMasterName?: string;
  /** Present: TLS. `caSecretRef`: the CA that signed the server's certificate (default: system CAs). */
  tls?: { caSecretRef?: SecretKeyRef; serverName?: string };
  /** A Secret with the keys `password` and optionally `username` (ACL user). */
  credentialsSecretRef?: { name: string };
  /** Per command; default 50. */
  timeoutMilliseconds?: number;
  /** Refuse (default): 503 reuse_store_unavailable; CountPerPod: count in the sidecar meanwhile. */
  whenUnavailable?: WhenUnavailable;
}

export interface ReuseSpec {
  maxUses?: number;
  sharedStore?: SharedStoreSpec;
}

export interface TokenPolicySpec {
  selector?: LabelSelector;
  targetPort?: number;
  mode?: Mode;
  issuers: IssuerSpec[];
  expiry?: ExpirySpec;
  reuse?: ReuseSpec;
  rules?: RuleSpec[];
  forwardClaims?: ForwardClaimSpec[];
  /** Forward the verified token to the app (default false: the app never sees a token). */
  forwardToken?: boolean;
  /** Peers (CIDRs) whose X-Forwarded-For / Forwarded / X-Real-IP / X-Forwarded-Host are kept. */
  trustedProxies?: string[];
  paths?: PathsSpec;
  http?: HttpSpec;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface TokenPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  matchedPods?: number;
  syncedSidecars?: number;
  revocations?: number;
  /** Selected pods running unprotected (src/operator/status/protection.ts decides). */
  unprotectedPods?: number;
  /** The same pods by reason (core/injection.ts UNPROTECTED_REASONS); reasons with none left out. */
  unprotectedByReason?: Record<string, number>;
}

export interface TokenPolicy {
  apiVersion: typeof API_VERSION;
  kind: 'TokenPolicy';
  metadata: ObjectMeta;
  spec: TokenPolicySpec;
  status?: TokenPolicyStatus;
}

export interface RevocationEntry {
  jti?: string;
  tokenSha256?: string;
  subject?: string;
  /** Matches tokens whose `sid` claim (OpenID Connect session) equals this; tokens without one never. */
  sid?: string;
  issuer?: string;
  issuedBefore?: string;
}

export interface TokenRevocationSpec {
  policyName?: string;
  reason?: string;
  expiresAt?: string;
  tokens: RevocationEntry[];
}

export interface TokenRevocation {
  apiVersion: typeof API_VERSION;
  kind: 'TokenRevocation';
  metadata: ObjectMeta;
  spec: TokenRevocationSpec;
}

/** A validation failure, with the path of the offending field: `spec.issuers[1].jwksUri`. */
export interface FieldError {
  field: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

// ---- compiled form: what the request path runs ---------------------------------------------

export type KeySourceSpec =
  { kind: 'jwksUri'; uri: string } | { kind: 'discovery'; issuer: string } | { kind: 'inline'; keys: JWK[] };

export interface CompiledIssuer {
  readonly issuer: string;
  readonly audiences: ReadonlySet<string>;
  readonly algorithms: ReadonlySet<Algorithm>;
  readonly keySource: KeySourceSpec;
  /** Normalised (`typeKey`) accepted `typ` values; undefined: any typ, or none, is accepted. */
  readonly expectedTypes?: ReadonlySet<string> | undefined;
  /** `receiver` of the spec; undefined: this issuer pushes nothing. */
  readonly receiver?: CompiledReceiver | undefined;
}

export interface CompiledReceiver {
  readonly audience: string;
  readonly events: ReadonlySet<ReceiverEvent>;
}

export interface CompiledExpiry {
  readonly requireExp: boolean;
  readonly clockSkewSeconds: number;
  readonly maxTokenAgeSeconds: number | undefined;
  readonly maxLifetimeSeconds: number | undefined;
}

export interface CompiledRule {
  readonly name: string;
  /** Exact normalised paths. */
  readonly exact: ReadonlySet<string>;
  /** Prefixes from `/x/*` patterns, kept with their trailing slash (`/x/`); `/x/*` also matches `/x`. */
  readonly prefixes: readonly string[];
  /** Upper-case methods; undefined matches every method. */
  readonly methods: ReadonlySet<string> | undefined;
  readonly action: RuleAction;
  readonly requiredScopes: readonly string[];
  readonly requiredClaims: readonly (readonly [claim: string, value: string])[];
}

export interface CompiledForwardClaim {
  readonly claim: string;
  /** Lower-case header name. */
  readonly header: string;
}

/**
 * `refuse`: 503 `reuse_store_unavailable` (fail closed); `count_per_pod`: count in the sidecar's
 * own table meanwhile (a token may then be used up to maxUses times per replica).
 */
export type ReuseOnUnavailable = 'refuse' | 'count_per_pod';

export interface StoreAddress {
  readonly host: string;
  readonly port: number;
}

/** The shared reuse store a policy names; credentials are never part of a policy. */
export interface CompiledSharedStore {
  readonly mode: 'standalone' | 'sentinel' | 'cluster';
  readonly addresses: readonly StoreAddress[];
  readonly sentinelMasterName: string | undefined;
  /** undefined: plain TCP. */
  readonly tls: { readonly serverName: string | undefined } | undefined;
  readonly timeoutMs: number;
  /** Canonical text of the above: equal text, same connection (a reload keeps the client). */
  readonly identity: string;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly namespace: string;
  readonly generation: number;
  readonly mode: Mode;
  readonly targetPort: number | undefined;
  /** Keyed by exact `iss`. */
  readonly issuers: ReadonlyMap<string, CompiledIssuer>;
  readonly expiry: CompiledExpiry;
  /** 0: unlimited. */
  readonly maxUses: number;
  /** What a reuse-limited request gets when the shared reuse store cannot be asked; undefined: refuse. */
  readonly reuse?: {
    readonly onUnavailable: ReuseOnUnavailable;
    /** `spec.reuse.sharedStore`; undefined: uses are counted in each sidecar. */
    readonly shared?: CompiledSharedStore;
  };
  readonly rules: readonly CompiledRule[];
  readonly forwardClaims: readonly CompiledForwardClaim[];
  /** Keep the verified token in what the app receives (`spec.forwardToken`). */
  readonly forwardToken?: boolean;
  /** `spec.trustedProxies`; undefined or empty: no peer is trusted. */
  readonly trustedProxies?: TrustedProxies | undefined;
  readonly paths?: CompiledPaths;
  readonly allowUnderscoreHeaders?: boolean;
  /** Stable hash of the spec, so a reload that changed nothing can be recognised. */
  readonly specHash: string;
}

/** An address range from `spec.trustedProxies`. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefix: number;
}

export interface CompiledPaths {
  readonly caseInsensitive: boolean;
  readonly matrixParameters: MatrixParameters;
}
