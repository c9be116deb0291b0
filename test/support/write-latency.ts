/**
 * The guest-side write latency replication adds (issue 14: "sync-mode write overhead on the guest against an
 * unreplicated VM"), measured the same way on host QEMU (bench/vm.ts) and on Docker engines
 * (bench/vm-docker.ts): a guest loop times 256 direct 4 KiB writes + fsync over and over and prints each
 * round on its console; the figure is the median of the rounds printed from now on.
 */

/** The guest's loop (busybox sh, /data on the VM's disk 0): one `DD 256x4k ms=N` line per round, forever. */
export const DD_LOOP = `while true; do
  t0=$(cut -d' ' -f1 /proc/uptime | tr -d .)
  dd if=/dev/zero of=/data/dd bs=4k count=256 oflag=direct conv=fsync 2>/dev/null
  t1=$(cut -d' ' -f1 /proc/uptime | tr -d .)
  echo "DD 256x4k ms=$(( (t1 - t0) * 10 ))"
done`;

/** The rounds a console log holds, in ms. */
export function ddRounds(log: string): number[] {
  return [...log.matchAll(/DD 256x4k ms=(\d+)/g)].map((m) => Number(m[1]));
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The median of the next `rounds` rounds of the console `log()` reads (the round under way now is
 * skipped: it may have started before whatever the caller just changed). Rejects after `timeoutMs`.
 */
export async function writeLatency(log: () => string, rounds = 5, timeoutMs = 120_000): Promise<number> {
  const from = ddRounds(log()).length;
  const deadline = Date.now() + timeoutMs;
  while (ddRounds(log()).length < from + rounds + 1) {
    if (Date.now() > deadline) throw new Error(`the guest printed ${ddRounds(log()).length - from} of ${rounds + 1} write rounds within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return median(ddRounds(log()).slice(from + 1, from + 1 + rounds));
}

/** The bench's line: both figures and their ratio. */
export function writeOverheadLine(plain: number, sync: number, rounds = 5): string {
  return `guest write latency, 256 direct 4 KiB writes + fsync (median of ${rounds} rounds): unreplicated ${plain} ms, sync-replicated ${sync} ms (${(sync / plain).toFixed(2)}×)`;
}
