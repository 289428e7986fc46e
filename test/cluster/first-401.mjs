// Runs in the client pod (node --input-type=module -e "$(cat first-401.mjs)" -- IP...): the token
// on stdin, pod IPs as arguments. Polls every replica directly
// on the app's port (so each sidecar is checked, not whichever the Service picks) every 20 ms for
// up to 10 s; prints the epoch ms at which the LAST replica first answered 401, or "never".
let token = '';
for await (const chunk of process.stdin) token += chunk;
token = token.trim();
const end = Date.now() + 10_000;
const first401 = async (ip) => {
  while (Date.now() < end) {
    const r = await fetch(`http://${ip}:8080/orders`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    if (r?.status === 401) return Date.now();
    await new Promise((ok) => setTimeout(ok, 20));
  }
  return undefined;
};
const times = await Promise.all(process.argv.slice(1).map(first401));
console.log(times.some((t) => t === undefined) ? 'never' : String(Math.max(...times)));
