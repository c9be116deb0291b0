/**
 * Field diffs between two specs, in the manifest's words and units (`memory: 1G → 768M`,
 * `disks[0].size: 10G → 20G`, `env.FOO: (unset) → x`): what plans show for every changing operation.
 */
import type { DiskSpec, PortSpec } from './desired.ts';
import type { NicBinding } from './nics.ts';
import type { FieldChange, InstanceSpec } from './operations.ts';
import { formatBytes } from './quantity.ts';

const UNSET = '(unset)';
const NONE = '(none)';

const port = (p: PortSpec): string => `${p.host !== undefined ? `${p.host}:` : ''}${p.container}/${p.protocol}`;
const list = (xs: readonly string[] | undefined): string => (xs?.length ? xs.join(' ') : UNSET);

/** Every field that differs, from `from` to `to`, in a stable order (the manifest's). */
export function fieldChanges(from: InstanceSpec, to: InstanceSpec): FieldChange[] {
  const out: FieldChange[] = [];
  const put = (path: string, a: string, b: string) => { if (a !== b) out.push({ path, from: a, to: b }); };
  put('image', from.image, to.image);
  put('memory', formatBytes(from.memory), formatBytes(to.memory));
  put('vcpus', String(from.vcpus), String(to.vcpus));
  diskChanges(from.disks, to.disks, put);
  for (const key of [...new Set([...Object.keys(from.env), ...Object.keys(to.env)])].sort()) put(`env.${key}`, from.env[key] ?? UNSET, to.env[key] ?? UNSET);
  put('command', list(from.command), list(to.command));
  put('ports', from.ports.map(port).join(', ') || NONE, to.ports.map(port).join(', ') || NONE);
  const nics = (s: InstanceSpec) => s.nics ?? [];
  for (let i = 0; i < Math.max(nics(from).length, nics(to).length); i++) put(`nics[${i}]`, nic(nics(from)[i]), nic(nics(to)[i]));
  return out;
}

/** `lan 10.42.0.7 02:d7:00:0a:0b:0c br42`: what makes a NIC, as one field. */
const nic = (n: NicBinding | undefined): string => (n ? `${n.network} ${n.ip} ${n.mac} ${n.mode === 'macvlan' ? 'macvlan ' : ''}${n.link}` : NONE);

function diskChanges(from: readonly DiskSpec[], to: readonly DiskSpec[], put: (path: string, a: string, b: string) => void): void {
  for (let i = 0; i < Math.max(from.length, to.length); i++) {
    const a = from[i];
    const b = to[i];
    if (!a || !b) {
      put(`disks[${i}]`, a ? formatBytes(a.size) : NONE, b ? formatBytes(b.size) : NONE);
      continue;
    }
    put(`disks[${i}].size`, formatBytes(a.size), formatBytes(b.size));
    put(`disks[${i}].mount`, a.mount, b.mount);
  }
}
