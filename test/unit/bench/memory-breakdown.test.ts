import { describe, expect, it } from 'vitest';
import { memoryBreakdownText, parseMemoryBreakdown } from '../../../bench/memory-breakdown.js';

const MiB = 1024 * 1024;

const scrape = [
  '# HELP tokenwarden_process_process_resident_memory_bytes Resident memory size in bytes.',
  `tokenwarden_process_process_resident_memory_bytes ${70 * MiB}`,
  `tokenwarden_process_nodejs_heap_size_total_bytes ${20 * MiB}`,
  `tokenwarden_process_nodejs_external_memory_bytes ${3 * MiB}`,
  `tokenwarden_process_nodejs_heap_space_size_total_bytes{space="new"} ${4 * MiB}`,
  `tokenwarden_process_nodejs_heap_space_size_total_bytes{space="old"} ${14 * MiB}`,
  `tokenwarden_process_nodejs_heap_space_size_total_bytes{space="code"} ${2 * MiB}`,
  'tokenwarden_process_nodejs_heap_space_size_total_bytes{space="shared"} 0',
  `tokenwarden_process_nodejs_heap_space_size_used_bytes{space="old"} ${9 * MiB}`,
].join('\n');

describe('parseMemoryBreakdown', () => {
  it('splits the RSS into the V8 heap spaces, external memory and the rest', () => {
    expect(parseMemoryBreakdown(scrape)).toEqual({
      rssMiB: 70,
      spaces: { new: 4, old: 14, code: 2 },
      heapTotalMiB: 20,
      externalMiB: 3,
      outsideHeapMiB: 47,
    });
  });

  it('is undefined when the process metrics are missing', () => {
    expect(parseMemoryBreakdown('tokenwarden_requests_total 1')).toBeUndefined();
  });

  it('prints the largest space first', () => {
    expect(memoryBreakdownText('x', parseMemoryBreakdown(scrape))).toContain('(old 14.0, new 4.0, code 2.0)');
    expect(memoryBreakdownText('x', undefined)).toContain('not available');
  });
});
