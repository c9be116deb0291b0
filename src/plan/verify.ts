/**
 * `drover verify`: the checks of `gnt-cluster verify` that apply to Drover. The model's checks
 * (N+1 with Ganeti's rule, policy limits, exclusion conflicts, groups) come from alloc/; the ones
 * that need what the nodes say (instances down or running where they should not, two copies,
 * degraded replicas, orphans, unreachable nodes) are here. Pure.
 */
import { verifyModel, type Finding as ModelFinding } from '../alloc/verify.ts';
import { copiesByInstance, nodeFacts, replicaCount, replicaHealth, type Copy } from './facts.ts';
import { currentModel } from './model.ts';
import type { PlanInput } from './types.ts';
import type { DesiredInstance } from '../model/desired.ts';
import type { Placement } from '../store/types.ts';
import { withOverrides } from './overrides.ts';
import type { NicCause } from '../model/causes.ts';
import { nicFindings, type NicCode } from './verify-nics.ts';

export type ObservedCode =
  | 'EIMAGES' | 'ENODEUNREACHABLE' | 'EINSTANCEDOWN' | 'EINSTANCEUP' | 'EINSTANCEDUP' | 'EINSTANCEWRONGNODE'
  | 'EINSTANCEMISSING' | 'EINSTANCEDEGRADED' | 'EINSTANCEUNPLACED' | 'EORPHAN' | 'EVMFILE';

export interface Finding {
  readonly code: ModelFinding['code'] | ObservedCode | NicCode;
  readonly severity: 'error' | 'warning';
  readonly node?: string;
  readonly instance?: string;
  readonly message: string;
  /** The finding as data, where it has a cause (the NIC checks). */
  readonly cause?: NicCause;
}

/** node → the images (of those the manifests use) it holds; absent where the backend has no images. */
export type ImagesByNode = ReadonlyMap<string, readonly string[]>;

/**
 * `images`: what each node holds of the manifests' container images; `missingFiles`: the files VM manifests
 * name (disk image, kernel, initrd) that the master cannot read now: Drover copies them to a VM's node
 * whenever it creates the VM there (a new instance, a cold move), so a missing one breaks those.
 */
export function verify(given: PlanInput, images?: ImagesByNode, missingFiles?: ReadonlySet<string>): Finding[] {
  const input = overridden(given);
  const findings: Finding[] = [...modelFindings(given), ...nodeFindings(input), ...instanceFindings(input), ...imageFindings(input, images), ...vmFileFindings(input, missingFiles), ...nicFindings(input)];
  const rank = (f: Finding) => (f.severity === 'error' ? 0 : 1);
  return findings.sort((a, b) => rank(a) - rank(b) || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) || ((a.node ?? a.instance ?? '') < (b.node ?? b.instance ?? '') ? -1 : 1));
}

/**
 * The cluster model's checks (N+1 with Ganeti's rule, policy limits, exclusion, groups) over the
 * placements and what the nodes say: the costly part of verify (a model of every instance), which
 * monitoring's N+1 reads too.
 */
export function modelFindings(given: PlanInput): readonly ModelFinding[] {
  const input = overridden(given);
  const facts = nodeFacts(input);
  return [...input.desired.clusters.values()].flatMap((c) => verifyModel(currentModel(input, c, facts, 'declared')));
}

/** An operator's drain counts as the planner sees it. */
const overridden = (given: PlanInput): PlanInput => ({ ...given, desired: withOverrides(given.desired, given.store).desired });

function nodeFindings(input: PlanInput): Finding[] {
  return [...input.desired.nodes.values()].flatMap((n) => {
    const o = input.observed.nodes.get(n.name);
    if (o?.health === 'up' || n.offline) return [];
    return [{ code: 'ENODEUNREACHABLE' as const, severity: 'error' as const, node: n.name, message: `node ${n.name} is unreachable: ${o?.error ?? 'not probed'}` }];
  });
}

/** Nodes of a cluster whose images differ: one lacks what another has (Drover copies it on first use). */
function imageFindings(input: PlanInput, images: ImagesByNode | undefined): Finding[] {
  if (!images) return [];
  const out: Finding[] = [];
  for (const c of input.desired.clusters.values()) {
    const nodes = [...input.desired.nodes.values()].filter((n) => n.cluster === c.name && images.has(n.name));
    const wanted = new Set([...input.desired.instances.values()].filter((i) => i.cluster === c.name && i.state !== 'absent' && !i.hypervisor).map((i) => i.image));
    for (const image of [...wanted].sort()) {
      const holders = nodes.filter((n) => images.get(n.name)!.includes(image)).map((n) => n.name);
      const lacking = nodes.filter((n) => !holders.includes(n.name)).map((n) => n.name);
      if (!lacking.length) continue;
      const where = holders.length ? `; ${holders.join(', ')} ha${holders.length === 1 ? 's' : 've'} it (Drover copies it before it creates an instance there)` : '; no node has it: instances using it cannot be created';
      for (const node of lacking) out.push({ code: 'EIMAGES', severity: holders.length ? 'warning' : 'error', node, message: `node ${node} lacks image ${image}${where}` });
    }
  }
  return out;
}

/** The files a VM's manifest names, on the master. */
export function vmFiles(i: DesiredInstance): string[] {
  return i.hypervisor ? [i.image, i.boot?.kernel, i.boot?.initrd].filter((f): f is string => !!f) : [];
}

function vmFileFindings(input: PlanInput, missing: ReadonlySet<string> | undefined): Finding[] {
  if (!missing?.size) return [];
  return [...input.desired.instances.values()].filter((i) => i.state !== 'absent').flatMap((i) => vmFiles(i).filter((f) => missing.has(f))
    .map((f) => err('EVMFILE', i.name, `VM ${i.name}: ${f} is missing on the master: Drover copies it to a node whenever it creates the VM there (a new node, a cold move)`)));
}

function instanceFindings(input: PlanInput): Finding[] {
  const copies = copiesByInstance(input);
  const out: Finding[] = [];
  for (const d of input.desired.instances.values()) {
    const p = input.store.placements.get(d.name);
    const list = copies.get(d.name) ?? [];
    if (d.state === 'absent') {
      if (list.some((c) => c.container?.state === 'running')) out.push(err('EINSTANCEUP', d.name, `instance ${d.name} is running but its manifest says state: absent`));
      continue;
    }
    if (!p) { out.push(err('EINSTANCEUNPLACED', d.name, `instance ${d.name} is not placed yet (drover apply creates it)`)); continue; }
    out.push(...runningFindings(d.name, d.state, p.primary, list, input));
    if (d.diskTemplate === 'replicated') out.push(...replicaFindings(d.name, d.disks.length, p, list, input));
  }
  for (const [instance, list] of copies) {
    if (input.desired.instances.has(instance) || input.store.placements.has(instance)) continue;
    for (const c of list) out.push({ code: 'EORPHAN', severity: 'warning', node: c.node, instance, message: `${instance} on ${c.node} carries Drover's labels but no manifest or placement wants it (apply --prune removes it)` });
  }
  return out;
}

function runningFindings(name: string, state: string, primary: string, list: readonly Copy[], input: PlanInput): Finding[] {
  const out: Finding[] = [];
  const running = list.filter((c) => c.container?.state === 'running');
  if (running.length > 1) out.push(err('EINSTANCEDUP', name, `instance ${name} runs on ${running.map((c) => c.node).join(' and ')}: two copies`));
  for (const c of running) if (c.node !== primary) out.push(err('EINSTANCEWRONGNODE', name, `instance ${name} runs on ${c.node}, but its primary is ${primary}`, c.node));
  if (input.observed.nodes.get(primary)?.health !== 'up') return out; // reported as the node's finding
  const here = list.find((c) => c.node === primary)?.container;
  if (!here) out.push(err('EINSTANCEMISSING', name, `instance ${name} has no container on its primary ${primary}`, primary));
  else if (state === 'running' && here.state !== 'running') out.push(err('EINSTANCEDOWN', name, `instance ${name} is down on ${primary} but should run`, primary));
  else if (state === 'stopped' && here.state === 'running') out.push(err('EINSTANCEUP', name, `instance ${name} runs on ${primary} but its manifest says state: stopped`, primary));
  return out;
}

function replicaFindings(name: string, disks: number, p: Pick<Placement, 'secondary' | 'lastSync'>, list: readonly Copy[], input: PlanInput): Finding[] {
  const s = p.secondary;
  const up = s !== undefined && input.observed.nodes.get(s)?.health === 'up';
  const r = replicaHealth(disks, p, { up, volumes: replicaCount(list.find((c) => c.node === s)?.volumes ?? []) });
  switch (r.kind) {
    case 'synced': return [];
    case 'no-secondary': return [warn('EINSTANCEDEGRADED', name, `instance ${name} is replicated but has no secondary`)];
    case 'unreachable': return [warn('EINSTANCEDEGRADED', name, `instance ${name}: its secondary ${r.node} is unreachable`, r.node)];
    case 'missing': return [err('EINSTANCEDEGRADED', name, `instance ${name}: ${r.missing} of ${r.of} replica disk(s) missing on ${r.node}`, r.node)];
    case 'never-synced': return [warn('EINSTANCEDEGRADED', name, `instance ${name}: the replica on ${r.node} was never synced`, r.node)];
  }
}

const err = (code: ObservedCode, instance: string, message: string, node?: string): Finding => ({ code, severity: 'error', instance, message, ...(node && { node }) });
const warn = (code: ObservedCode, instance: string, message: string, node?: string): Finding => ({ code, severity: 'warning', instance, message, ...(node && { node }) });
