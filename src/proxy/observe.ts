/**
 * What is recorded about each answer: `tokenwarden_requests_total` (every answer the sidecar
 * gives, decided or not), the decision latency, the lifetime histograms of accepted tokens and
 * the log lines. Labels come from the decision itself (the policy and generation it was made
 * under), never from state re-read after an await.
 */
import type { RefusalReason } from '../core/reasons.js';
import type { Decision, Forward, Reject } from '../decide/decision.js';
import type { RequestFacts } from '../decide/request.js';
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from '../metrics/sidecar.js';
import type { UpstreamErrorKind } from './forward.js';
import { loggableFields, loggablePath, loggableText } from './log-safe.js';
import { RateLimitedLog } from './http-guards.js';

export interface Observer {
  /**
   * The decision made (`started`: process.hrtime.bigint() when the request arrived): its latency,
   * and for refusals their count and log line. A forward is counted by `forwarded` once the app
   * is actually asked, so a request that ends otherwise (body timeout, upstream busy) is counted
   * once, by its refusal.
   */
  decided(d: Decision, facts: RequestFacts, started: bigint): void;
  /** The request of a forward decision leaves for the app: counted under its decision. */
  forwarded(d: Forward): void;
  /** An answer given without a decision; `policy` is the one enforced at that instant. */
  refused(reason: RefusalReason, policy: string, detail: Record<string, unknown>): void;
  /** A forwarded request the app did not answer (the request was counted by its decision). */
  upstreamFailed(kind: UpstreamErrorKind, err: Error, facts: RequestFacts, path: string): void;
}

export function createObserver(metrics: SidecarMetrics, log: Logger): Observer {
  const refusals = new RateLimitedLog(log);
  return {
    decided(d, facts, started) {
      metrics.authDuration.record(Number(process.hrtime.bigint() - started) / 1e9);
      if (d.kind === 'unavailable') {
        metrics.countRequest('', 'deny', 'no_policy');
        return;
      }
      const policy = d.policy;
      if (d.kind === 'reject') {
        metrics.countRequest(policy, 'deny', d.reason);
        if (d.reason === 'reused') metrics.tokenReuse.inc({ policy });
        logDenial(log, d, facts);
        return;
      }
      if (d.decision === 'audit_deny') {
        if (d.reason === 'reused') metrics.tokenReuse.inc({ policy });
        logDenial(log, d, facts);
      } else if (d.reason === 'ok') {
        recordAccepted(metrics, log, d, facts);
      }
    },

    forwarded(d) {
      metrics.countRequest(d.policy, d.decision, d.reason);
    },

    refused(reason, policy, unsafe) {
      const detail = loggableFields(unsafe);
      metrics.countRequest(policy, 'deny', reason);
      if (reason === 'internal_error') log.error({ reason, ...detail }, 'internal error deciding request');
      // Rate-limited: an attack can produce thousands a second. Enforced in Audit mode too.
      else
        refusals.warn(
          reason,
          { decision: 'deny', policy, enforcedInAudit: true, ...detail },
          reason === 'client_closed'
            ? 'client left before the request was forwarded (nothing reached the app)'
            : 'request refused (protocol-level; enforced in every mode)',
        );
    },

    upstreamFailed(kind, err, facts, path) {
      metrics.upstreamErrors.inc({ kind });
      log.warn(
        { kind, err: loggableText(err.message), method: facts.method, path: loggablePath(path) },
        'upstream failed',
      );
    },
  };
}

/** A refusal, or one that Audit mode forwards anyway: one log line each (not rate-limited). */
function logDenial(log: Logger, d: Reject | Forward, facts: RequestFacts): void {
  log.info(
    {
      decision: d.kind === 'forward' ? d.decision : 'deny',
      reason: d.reason,
      detail: d.description === undefined ? undefined : loggableText(d.description),
      policy: d.policy,
      generation: d.generation,
      rule: d.rule,
      method: facts.method,
      path: loggablePath(d.path),
      client: facts.client,
      fingerprint: d.token?.fingerprint,
      sub: d.token?.sub,
      jti: d.token?.jti,
      iss: d.token?.iss,
      enforcedInAudit: d.kind === 'reject' ? d.enforcedInAudit : undefined,
    },
    d.kind === 'forward' ? 'token would be rejected (audit)' : 'request rejected',
  );
}

/** A token accepted: its remaining lifetime and age, and a debug line when debug is on. */
function recordAccepted(metrics: SidecarMetrics, log: Logger, d: Forward, facts: RequestFacts): void {
  const now = Date.now() / 1000;
  if (d.exp !== undefined) metrics.remainingLifetime.record(Math.max(0, d.exp - now));
  if (d.iat !== undefined) metrics.tokenAge.record(Math.max(0, now - d.iat));
  if (log.isLevelEnabled('debug')) {
    log.debug(
      {
        policy: d.policy,
        generation: d.generation,
        rule: d.rule,
        method: facts.method,
        path: loggablePath(d.path),
        fingerprint: d.token?.fingerprint,
        sub: d.token?.sub,
      },
      'request allowed',
    );
  }
}
