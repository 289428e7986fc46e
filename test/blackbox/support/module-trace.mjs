// Preload (`node --import`) that records every module file the process loads, ESM and CommonJS,
// one absolute path or URL per line, into the file named by TOKENWARDEN_MODULE_TRACE.
// Used by test/blackbox/memory.test.ts to prove what `tokenwarden sidecar` never loads.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.TOKENWARDEN_MODULE_TRACE;
if (out) {
  // ESM: resolution hooks run on a loader thread; they append there.
  register('./module-trace-hooks.mjs', import.meta.url, { data: { out } });
  // CommonJS: every require() goes through Module._load.
  const Module = createRequire(import.meta.url)('node:module');
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    try {
      appendFileSync(out, `${Module._resolveFilename(request, parent, isMain)}\n`);
    } catch {
      // unresolvable here: the real load reports it
    }
    return load.apply(this, arguments);
  };
}
