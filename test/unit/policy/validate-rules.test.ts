import { describe } from 'vitest';
import { type BadCase, itRejects, rule } from './policy-cases.js';

const FORBIDDEN_HEADERS = [
  'Host',
  'Cookie',
  'CONTENT-LENGTH',
  'Transfer-Encoding',
  'Connection',
  'Keep-Alive',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'te',
  'Trailer',
  'Upgrade',
  'Proxy-Connection',
];

const bad: BadCase[] = [
  { name: 'a rule without a name', mutate: (p) => delete rule(p).name, fields: ['spec.rules[0].name'] },
  {
    name: 'two rules with one name',
    mutate: (p) => (rule(p, 1).name = 'health'),
    fields: ['spec.rules[1].name'],
    message: 'duplicate rule name "health" (also spec.rules[0].name)',
  },
  { name: 'a rule without paths', mutate: (p) => (rule(p).paths = []), fields: ['spec.rules[0].paths'] },
  {
    name: 'a relative path',
    mutate: (p) => (rule(p).paths = ['healthz']),
    fields: ['spec.rules[0].paths[0]'],
    message: "must start with '/'",
  },
  {
    name: 'a star mid-path',
    mutate: (p) => (rule(p).paths = ['/a/*/b']),
    fields: ['spec.rules[0].paths[0]'],
    message: "only as a final '/*'",
  },
  {
    name: 'a star glued to a name',
    mutate: (p) => (rule(p).paths = ['/admin*']),
    fields: ['spec.rules[0].paths[0]'],
  },
  {
    name: 'a path that is not normalised',
    mutate: (p) => (rule(p).paths = ['/public/../admin/*']),
    fields: ['spec.rules[0].paths[0]'],
    message: 'write "/admin/*"',
  },
  {
    name: 'a path with a query',
    mutate: (p) => (rule(p).paths = ['/a?b=c']),
    fields: ['spec.rules[0].paths[0]'],
  },
  {
    name: 'a path with a matrix parameter, which no request can reach',
    mutate: (p) => (rule(p).paths = ['/a;v=1/*']),
    fields: ['spec.rules[0].paths[0]'],
    message: 'cannot match any request',
  },
  {
    name: 'a path with an encoded slash',
    mutate: (p) => (rule(p).paths = ['/a%2Fb']),
    fields: ['spec.rules[0].paths[0]'],
  },
  {
    name: 'a lower-case method',
    mutate: (p) => (rule(p).methods = ['get']),
    fields: ['spec.rules[0].methods[0]'],
    message: 'must be upper-case: "GET"',
  },
  {
    name: 'a method with a space',
    mutate: (p) => (rule(p).methods = ['GET POST']),
    fields: ['spec.rules[0].methods[0]'],
  },
  { name: 'an empty method list', mutate: (p) => (rule(p).methods = []), fields: ['spec.rules[0].methods'] },
  {
    // A name for every method is not a method: leaving methods out already means every method.
    name: 'a name for every method that no request carries (ANY)',
    mutate: (p) => (rule(p).methods = ['GET', 'ANY']),
    fields: ['spec.rules[0].methods[1]'],
    message: 'leave methods out to match every method',
  },
  {
    name: 'a method that is not an RFC 9110 token',
    mutate: (p) => (rule(p).methods = ['GET POST']),
    fields: ['spec.rules[0].methods[0]'],
    message: 'must be an HTTP method name',
  },
  {
    name: 'a lower-case extension method',
    mutate: (p) => (rule(p).methods = ['propfind']),
    fields: ['spec.rules[0].methods[0]'],
    message: 'must be upper-case: "PROPFIND"',
  },
  {
    name: 'a method longer than 32 characters',
    mutate: (p) => (rule(p).methods = ['X'.repeat(33)]),
    fields: ['spec.rules[0].methods[0]'],
  },
  { name: 'an unknown action', mutate: (p) => (rule(p).action = 'Permit'), fields: ['spec.rules[0].action'] },
  {
    name: 'scopes on an Allow rule',
    mutate: (p) => (rule(p).requiredScopes = ['x']),
    fields: ['spec.rules[0].requiredScopes'],
    message: 'only allowed when action is Authenticate, not Allow',
  },
  {
    name: 'claims on a Deny rule',
    mutate: (p) => void Object.assign(rule(p, 1), { action: 'Deny', requiredScopes: undefined }),
    fields: ['spec.rules[1].requiredClaims'],
  },
  {
    name: 'a scope with a space',
    mutate: (p) => (rule(p, 1).requiredScopes = ['a b']),
    fields: ['spec.rules[1].requiredScopes[0]'],
  },
  {
    name: 'a scope with a quote',
    mutate: (p) => (rule(p, 1).requiredScopes = ['a"b']),
    fields: ['spec.rules[1].requiredScopes[0]'],
  },
  {
    name: 'a required claim value that is a number',
    mutate: (p) => (rule(p, 1).requiredClaims = { level: 3 }),
    fields: ['spec.rules[1].requiredClaims.level'],
    message: 'quote it in YAML: "3"',
  },
  {
    name: 'a URL-named required claim that is a list',
    mutate: (p) => (rule(p, 1).requiredClaims = { 'https://x/role': ['a'] }),
    fields: ['spec.rules[1].requiredClaims["https://x/role"]'],
  },
  {
    name: 'an empty forwarded claim',
    mutate: (p) => (p.spec.forwardClaims[0].claim = ''),
    fields: ['spec.forwardClaims[0].claim'],
  },
  {
    name: 'forwarding into Authorization',
    mutate: (p) => (p.spec.forwardClaims[0].header = 'authorization'),
    fields: ['spec.forwardClaims[0].header'],
    message: 'is reserved',
  },
  ...FORBIDDEN_HEADERS.map((header): BadCase => ({
    name: `forwarding into ${header}`,
    mutate: (p) => (p.spec.forwardClaims[0].header = header),
    fields: ['spec.forwardClaims[0].header'],
  })),
  {
    name: 'a header name with a space',
    mutate: (p) => (p.spec.forwardClaims[0].header = 'X Auth'),
    fields: ['spec.forwardClaims[0].header'],
  },
  {
    name: 'a header name with a colon',
    mutate: (p) => (p.spec.forwardClaims[0].header = 'X-Auth:'),
    fields: ['spec.forwardClaims[0].header'],
  },
  {
    name: 'one header twice, in different case',
    mutate: (p) => void p.spec.forwardClaims.push({ claim: 'email', header: 'x-auth-subject' }),
    fields: ['spec.forwardClaims[1].header'],
    message: 'also spec.forwardClaims[0].header',
  },
];

describe('validatePolicy rejects in spec.rules and spec.forwardClaims', () => itRejects(bad));
