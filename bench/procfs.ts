/**
 * Per-process CPU time and memory from /proc (Linux only). CPU time is the sum over all
 * threads of the process, so HAProxy's and Node's helper threads are counted too.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** utime + stime of the process in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / clockTicks();
}

/** Resident set size in bytes (VmRSS), or undefined if the process is gone. */
export function rssBytes(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** Samples RSS every intervalMs until stopped; returns the peak seen. */
export function sampleRss(pid: number, intervalMs: number): () => number | undefined {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    const now = rssBytes(pid);
    if (now !== undefined && (peak === undefined || now > peak)) peak = now;
  }, intervalMs);
  return () => {
    clearInterval(timer);
    const last = rssBytes(pid);
    return last !== undefined && (peak === undefined || last > peak) ? last : peak;
  };
}
