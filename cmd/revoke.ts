/** `tokenwarden revoke`: flags → one TokenRevocation; prints its name. Exit 0 created, 1 failed, 2 usage. */
import { KubeconfigError, loadKubeconfig } from '../src/cli/kubeconfig.js';
import {
  createRevocation,
  describeRevokeError,
  revokeRequestProblem,
  type RevokeMatch,
  type RevokeRequest,
} from '../src/cli/revoke.js';
import { parseFlags } from '../src/config/flags.js';
import { REVOKE_FLAGS, REVOKE_USAGE } from '../src/config/revoke-flags.js';

class UsageError extends Error {}

function parse(argv: string[]): RevokeRequest & { kubeconfig?: string } {
  let values;
  try {
    ({ values } = parseFlags('revoke', REVOKE_FLAGS, argv));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { namespace, jti, token, subject, issuer } = values;
  if (namespace === undefined) throw new UsageError('--namespace is required');
  const given = [jti, token, subject].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --jti, --token or --subject');
  if (subject === undefined && (issuer !== undefined || values['issued-before'] !== undefined)) {
    throw new UsageError('--issuer and --issued-before only narrow --subject: add --subject');
  }
  let match: RevokeMatch;
  if (jti !== undefined) match = { jti };
  else if (token !== undefined) match = { token };
  else match = { subject: subject as string, issuer, issuedBefore: values['issued-before'] };
  const request: RevokeRequest & { kubeconfig?: string } = {
    namespace,
    match,
    policyName: values.policy,
    reason: values.reason,
    expiresAt: values['expires-at'],
    kubeconfig: values.kubeconfig,
  };
  const problem = revokeRequestProblem(request);
  if (problem !== undefined) throw new UsageError(problem);
  return request;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(REVOKE_USAGE);
    return 0;
  }
  let request;
  try {
    request = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`tokenwarden revoke: ${err.message}\n`);
    return 2;
  }
  let kc;
  try {
    kc = loadKubeconfig(request.kubeconfig);
  } catch (err) {
    if (!(err instanceof KubeconfigError)) throw err;
    process.stderr.write(`tokenwarden revoke: ${err.message}\n`);
    return 2;
  }
  try {
    const name = await createRevocation(kc, request);
    process.stdout.write(`${name}\n`);
    return 0;
  } catch (err) {
    const server = kc.getCurrentCluster()?.server ?? '(no server)';
    process.stderr.write(`tokenwarden revoke: ${describeRevokeError(err, request.namespace, server)}\n`);
    return 1;
  }
}
