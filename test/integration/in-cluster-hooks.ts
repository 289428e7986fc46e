/**
 * The hooks the in-cluster files share: the world of in-cluster-world.ts (namespaces, policy,
 * pods and their tokens, the recording app), the REAL operator process serving on the world's
 * port, then the REAL sidecars of pods orders-0…orders-(n-1). After the file, every process is
 * stopped and the world torn down.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Proc } from './in-cluster-support.js';
import {
  servePort,
  setupWorld,
  startOperatorProc,
  startSidecar,
  teardownWorld,
  work,
  type Sidecar,
} from './in-cluster-world.js';

export interface InCluster {
  /** The running operator; a file that restarts it stores the new one here. */
  operator: Proc;
  sidecars: Sidecar[];
  /** The first of the sidecars. */
  sidecar: Sidecar;
  /** The CA that signed the operator's serving certificate. */
  caPem: string;
}

export interface InClusterOptions {
  /** The operator process's name (its log file). */
  operator: string;
  sidecars: number;
  /** Runs after the world is set up and before the operator starts (e.g. to change the policy). */
  beforeOperator?: () => Promise<void>;
}

export function useInCluster(opts: InClusterOptions): InCluster {
  // operator and sidecar are set before the first case runs.
  const world = { sidecars: [], caPem: '' } as unknown as InCluster;
  beforeAll(async () => {
    await setupWorld();
    await opts.beforeOperator?.();
    world.operator = await startOperatorProc(opts.operator, servePort);
    world.caPem = readFileSync(join(work, 'ca.crt'), 'utf8');
    for (let i = 0; i < opts.sidecars; i++) world.sidecars.push(await startSidecar(i));
    world.sidecar = world.sidecars[0] as Sidecar;
  });
  afterAll(teardownWorld);
  return world;
}
