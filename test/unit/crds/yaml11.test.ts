/**
 * Helm and kubectl read YAML as YAML 1.1 (sigs.k8s.io/yaml), where an unquoted `n`, `y`, `on`,
 * `off`, `yes` or `no` is a boolean: the JWK member `n` became the key "false" and the API server
 * refused the CRD's CEL rule that reads self.n. Every CRD file must mean the same in 1.1 and 1.2.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dirs = ['crds', 'charts/tokenwarden/crds'];

describe('CRDs read the same as YAML 1.1 (helm, kubectl) and YAML 1.2', () => {
  for (const dir of dirs) {
    for (const file of readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.yaml'))) {
      it(`${dir}/${file}`, () => {
        const text = readFileSync(path.join(ROOT, dir, file), 'utf8');
        const v12 = parseAllDocuments(text).map((d) => d.toJS() as unknown);
        const v11 = parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS() as unknown);
        expect(v11).toEqual(v12);
      });
    }
  }
});
