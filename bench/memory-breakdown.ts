/**
 * Where the sidecar's memory goes, read from its own /metrics (prom-client's process and
 * Node.js default metrics): V8 heap spaces, external memory, and the rest of the RSS (Node's
 * binary and libraries, native allocations, the allocator's free pages). Printed after the
 * load, so the spaces show what the run left behind.
 */
export interface MemoryBreakdown {
  rssMiB: number;
  /** V8 heap space → committed MiB (space_size_total). */
  spaces: Record<string, number>;
  heapTotalMiB: number;
  externalMiB: number;
  /** RSS minus the V8 heap and Node's external memory. */
  outsideHeapMiB: number;
}

const MiB = 1024 * 1024;

export function parseMemoryBreakdown(text: string): MemoryBreakdown | undefined {
  const value = (name: string): number | undefined => {
    const m = new RegExp(`^\\w*${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const rss = value('process_resident_memory_bytes');
  const heapTotal = value('nodejs_heap_size_total_bytes');
  const external = value('nodejs_external_memory_bytes');
  if (rss === undefined || heapTotal === undefined || external === undefined) return undefined;
  const spaces: Record<string, number> = {};
  for (const m of text.matchAll(/^\w*nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm)) {
    const bytes = Number(m[2]);
    if (bytes > 0) spaces[m[1]!] = bytes / MiB;
  }
  return {
    rssMiB: rss / MiB,
    spaces,
    heapTotalMiB: heapTotal / MiB,
    externalMiB: external / MiB,
    outsideHeapMiB: (rss - heapTotal - external) / MiB,
  };
}

export async function readMemoryBreakdown(adminPort: number): Promise<MemoryBreakdown | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    return response.ok ? parseMemoryBreakdown(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

export function memoryBreakdownText(label: string, b: MemoryBreakdown | undefined): string {
  if (b === undefined) return `${label}: memory breakdown not available (no /metrics)`;
  const spaces = Object.entries(b.spaces)
    .sort((x, y) => y[1] - x[1])
    .map(([name, mib]) => `${name} ${mib.toFixed(1)}`)
    .join(', ');
  return (
    `${label}: RSS ${b.rssMiB.toFixed(1)} MiB = V8 heap ${b.heapTotalMiB.toFixed(1)} (${spaces}) + ` +
    `external ${b.externalMiB.toFixed(1)} + outside the V8 heap ${b.outsideHeapMiB.toFixed(1)} ` +
    '(Node binary and libraries, native allocations, allocator free pages)'
  );
}
