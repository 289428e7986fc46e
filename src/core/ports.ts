/**
 * Every port (and the UID tied to one) that two parts of Tokenwarden must agree on, in one
 * place: the flags' defaults (src/config), the injected pod spec (src/operator/webhook), the
 * policy validation and the capture rules import them from here. The chart cannot import
 * TypeScript: test/unit/config/ports.test.ts checks its values and the injected spec agree.
 */

/** The sidecar's proxy listener inside the pod (an app must not use it). */
export const PROXY_PORT = 15080;
/** The sidecar's /healthz /readyz /metrics /status inside the pod (an app must not use it). */
export const ADMIN_PORT = 15090;
/** The sidecar's UID and GID; the capture rules exempt this UID so the sidecar reaches the app. */
export const SIDECAR_UID = 15080;
/** The operator's /metrics /healthz /readyz. */
export const OPERATOR_METRICS_PORT = 15091;
/** The operator's HTTPS server: the sidecars' config stream and the injection webhook. */
export const OPERATOR_SERVE_PORT = 15443;
