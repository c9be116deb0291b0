/**
 * `metadata.renamedFrom`: the old name must be gone from the manifests (two instances cannot share
 * one past), and a name is renamed into one instance only. Whether Drover knows the old name is the
 * planner's question (plan/rename.ts): the field may stay in git after the rename.
 */
import type { Desired } from '../model/desired.ts';
import type { Docs } from './build.ts';
import { formatLocation, type Diagnostics } from './diagnostic.ts';
import { where } from './types.ts';

export function checkRenames(desired: Desired, docs: Docs, diags: Diagnostics): void {
  const claimed = new Map<string, string>(); // old name → the first instance renamed from it
  for (const inst of desired.instances.values()) {
    const old = inst.renamedFrom;
    if (old === undefined) continue;
    const m = docs.instances.get(inst.name)!;
    const err = (msg: string) => diags.error(where(m, '/metadata/renamedFrom'), `${m.title}: metadata.renamedFrom: ${msg}`);
    const other = docs.instances.get(old);
    const first = claimed.get(old);
    if (old === inst.name) err(`"${old}" is the instance's own name`);
    else if (other) err(`"${old}" is still declared at ${formatLocation(where(other, '/metadata/name'))}; rename it by changing its name there, or remove one of the two`);
    else if (first !== undefined) err(`"${old}" is already renamed to "${first}"; one instance cannot become two`);
    else claimed.set(old, inst.name);
  }
}
