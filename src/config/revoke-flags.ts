/** `tokenwarden revoke`: every flag and its help, written once (parser and usage text). */
import { flagLines, type FlagTable } from './flags.js';

export const REVOKE_FLAGS = {
  namespace: { arg: 'NS', short: 'n', help: 'namespace of the protected app (required)' },
  jti: { arg: 'J', help: 'revoke the token with this jti' },
  token: { arg: 'T', help: 'revoke this token (only its hash is stored)' },
  subject: { arg: 'S', help: 'revoke every token of this subject ...' },
  issuer: { arg: 'I', help: '... from this issuer only' },
  'issued-before': { arg: 'TIME', help: '... issued before this RFC 3339 time' },
  policy: {
    arg: 'NAME',
    defaultText: 'every policy in the namespace',
    help: 'apply to this TokenPolicy only',
  },
  reason: { arg: 'R', help: 'why, for the record' },
  'expires-at': { arg: 'TIME', help: 'RFC 3339; after it the revocation may be garbage-collected' },
  kubeconfig: { arg: 'FILE', defaultText: '$KUBECONFIG or ~/.kube/config', help: 'kubeconfig to use' },
} as const satisfies FlagTable;

export const REVOKE_USAGE = `usage: tokenwarden revoke --namespace NS (--jti J | --token T | --subject S [--issuer I] [--issued-before TIME]) [flags]

Creates a TokenRevocation (named revoke-XXXXX) in the current kubeconfig context and prints its
name. --token stores only the SHA-256 of the token's signed part, never the token.

flags:
${flagLines(REVOKE_FLAGS, 28)}`;
