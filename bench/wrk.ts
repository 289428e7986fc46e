/**
 * One wrk run against a target: pinned to the load CPU, bounded in time, result parsed from
 * the WRK_RESULT line printed by rotate.lua.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const LUA_SCRIPT = fileURLToPath(new URL('../../bench/rotate.lua', import.meta.url));

export interface WrkResult {
  requests: number;
  durationUs: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  errConnect: number;
  errRead: number;
  errWrite: number;
  /** Responses other than 2xx/3xx. */
  errStatus: number;
  errTimeout: number;
}

export interface WrkRun {
  cpu: number;
  port: number;
  seconds: number;
  connections: number;
  threads: number;
  tokenFile: string;
  /** Index in the token file where the round-robin starts (rotate.lua's START). */
  start?: number;
}

export function runWrk(run: WrkRun): Promise<WrkResult> {
  const args = [
    '-c',
    String(run.cpu),
    'wrk',
    '-t',
    String(run.threads),
    '-c',
    String(run.connections),
    '-d',
    `${run.seconds}s`,
    '--timeout',
    '5s',
    '-s',
    LUA_SCRIPT,
    `http://127.0.0.1:${run.port}/`,
    '--',
    run.tokenFile,
    String(run.start ?? 0),
  ];
  // wrk stops itself after -d; the kill timeout only guards against a wedged wrk.
  const timeout = (run.seconds + 30) * 1000;
  return new Promise((resolve, reject) => {
    execFile('taskset', args, { timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
        return;
      }
      const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
      if (line === undefined) {
        reject(new Error(`wrk printed no result:\n${stdout}\n${stderr}`));
        return;
      }
      resolve(JSON.parse(line.slice('WRK_RESULT '.length)) as WrkResult);
    });
  });
}

export function socketErrors(r: WrkResult): number {
  return r.errConnect + r.errRead + r.errWrite + r.errTimeout;
}
