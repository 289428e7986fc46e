/**
 * Worker thread of bench/material.ts: signs one range of tokens and posts them back. The
 * private key arrives as a cloned KeyObject, in memory only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { signRange } from './jwt.js';
import type { SigningSpec } from './jwt.js';

export interface SignJob {
  key: SigningSpec;
  from: number;
  to: number;
  iat: number;
}

const job = workerData as SignJob;
parentPort?.postMessage(signRange(job.key, job.from, job.to, job.iat));
