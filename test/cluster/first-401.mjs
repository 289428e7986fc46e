// Runs in the client pod (node --input-type=module -e "$(cat first-401.mjs)" -- IP...): the token
// on stdin, pod IPs as arguments. First checks every replica still accepts the token, then prints
// "polling" (the suite applies the revocation only after that line, so the time kubectl exec takes
// to start is not counted), then polls every replica directly on the app's port every 20 ms for
// up to 20 s and prints the epoch ms at which the LAST replica first answered 401, or "never".
let token = '';
for await (const chunk of process.stdin) token += chunk;
token = token.trim();
const ips = process.argv.slice(1);
const status = (ip) =>
  fetch(`http://${ip}:8080/orders`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(2000),
  }).then(
    (r) => r.status,
    () => 0,
  );
const before = await Promise.all(ips.map(status));
if (before.some((s) => s !== 200)) {
  console.log(`not-accepted-before ${before.join(',')}`);
  process.exit(1);
}
console.log('polling');
const end = Date.now() + 20_000;
const first401 = async (ip) => {
  while (Date.now() < end) {
    if ((await status(ip)) === 401) return Date.now();
    await new Promise((ok) => setTimeout(ok, 20));
  }
  return undefined;
};
const times = await Promise.all(ips.map(first401));
console.log(times.some((t) => t === undefined) ? 'never' : String(Math.max(...times)));
