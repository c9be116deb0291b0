/**
 * Which accelerator a node gives its VMs: `kvm` when the engine's host has /dev/kvm backed by hardware
 * virtualisation (the kvm_intel or kvm_amd module), else `tcg` (emulation). /dev/kvm alone is not enough:
 * a nested host may offer a paravirtual KVM (kvm_pvm) that runs SeaBIOS but hangs a stock kernel. Probed
 * once per node with a helper that sees the host's /dev, and cached for the driver's life.
 */
import type { Conn, Engine } from '../engine.ts';
import { runHelper } from '../helpers.ts';

export type Accel = 'kvm' | 'tcg';

const cache = new WeakMap<Engine, Map<string, Promise<Accel>>>();

const PROBE = 'test -c /host-dev/kvm && { test -d /sys/module/kvm_intel || test -d /sys/module/kvm_amd; }';

export function nodeAccel(e: Engine, c: Conn): Promise<Accel> {
  let byNode = cache.get(e);
  if (!byNode) { byNode = new Map(); cache.set(e, byNode); }
  const have = byNode.get(c.name);
  if (have) return have;
  const p = runHelper(e, c, `probe-${e.cluster}`, 'kvm', ['sh', '-c', PROBE], [], 30_000, { binds: ['/dev:/host-dev:ro'] })
    .then((r): Accel => (r.exitCode === 0 ? 'kvm' : 'tcg'));
  byNode.set(c.name, p);
  p.catch(() => byNode.delete(c.name));
  return p;
}
