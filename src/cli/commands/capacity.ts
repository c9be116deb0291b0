import { parseArgs } from 'node:util';
import { capacityStandard, capacityTiered, type CapacitySpec } from '../../alloc/capacity.ts';
import { formatBytes, parseQuantity } from '../../model/quantity.ts';
import { nodeFacts } from '../../plan/facts.ts';
import { currentModel } from '../../plan/model.ts';
import { poolLimits, poolUsage } from '../../net/usage.ts';
import { withLook } from '../context.ts';
import { EXIT, UsageError, type Io, STORE_OPTIONS } from '../io.ts';

export const usage = `drover capacity [PATH...] --spec memory=1G,disk=10G,vcpus=1[,template=replicated] [--tiered] [--json]
  How many more instances of that spec fit (hspace's standard mode), and what runs out first;
  --tiered shrinks the spec as resources run out, as hspace --tiered-alloc does. With networks, each
  network's free pool addresses, and whether its pool runs out before the resource that limits the count.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    spec: { type: 'string' }, tiered: { type: 'boolean' }, json: { type: 'boolean' }, ...STORE_OPTIONS,
  } });
  if (!values.spec) throw new UsageError(`--spec is required\n${usage}`);
  const spec = parseSpec(values.spec);
  const code = await withLook(positionals, values, io, async ({ desired, store, observed }) => {
    const input = { desired, observed, store, now: Date.now() };
    const facts = nodeFacts(input);
    for (const c of desired.clusters.values()) {
      const model = currentModel(input, c, facts);
      const run = values.tiered ? capacityTiered(model, spec) : capacityStandard(model, spec);
      const pools = poolLimits(poolUsage([...desired.networks?.values() ?? []].filter((n) => n.cluster === c.name), store.placements.values()), run.count);
      if (values.json) {
        io.out(JSON.stringify({ cluster: c.name, spec, count: run.count, limitingResource: run.limitingResource, stoppedBy: run.stoppedBy, tiers: run.tiers, score: run.score, ...(pools.length && { networks: pools }) }));
        continue;
      }
      io.out(`Cluster ${c.name}: ${run.count} more instance${run.count === 1 ? '' : 's'} of ${describeSpec(spec)} fit; limited by ${run.limitingResource} (${run.stoppedBy}).`);
      for (const p of pools) io.out(`  network ${p.network}: ${p.free} free pool address${p.free === 1 ? '' : 'es'}${p.runsOutFirst ? `: with a pooled NIC on it, only ${p.free} fit; the pool runs out before ${run.limitingResource}` : ''}.`);
      if (values.tiered) for (const t of run.tiers) io.out(`  ${String(t.count).padStart(6)} × ${describeSpec(t.spec)}`);
    }
    return EXIT.ok;
  });
  return code ?? EXIT.error;
}

function describeSpec(s: CapacitySpec): string {
  return `memory ${formatBytes(s.memory)}, disk ${formatBytes(s.disk)}, ${s.vcpus} vcpu${s.vcpus === 1 ? '' : 's'}, ${s.template}`;
}

/** `memory=1G,disk=10G,vcpus=1,template=plain` → a spec; every field named in the error. */
export function parseSpec(text: string): CapacitySpec {
  const fields = new Map(text.split(',').map((kv) => kv.split('=', 2).map((x) => x.trim()) as [string, string]));
  for (const k of fields.keys()) if (!['memory', 'disk', 'vcpus', 'template'].includes(k)) throw new UsageError(`--spec: unknown field "${k}" (memory, disk, vcpus, template)`);
  const quantity = (k: string) => {
    const v = fields.get(k);
    if (v === undefined) throw new UsageError(`--spec: ${k}= is required (e.g. memory=1G,disk=10G,vcpus=1)`);
    const q = parseQuantity(v);
    if (q === undefined || q <= 0) throw new UsageError(`--spec: ${k}="${v}" is not a quantity (use 512M, 1G, 1.5T)`);
    return q;
  };
  const vcpus = Number(fields.get('vcpus') ?? '1');
  if (!Number.isInteger(vcpus) || vcpus < 1) throw new UsageError(`--spec: vcpus="${fields.get('vcpus')}" is not a whole number ≥ 1`);
  const template = fields.get('template') ?? 'replicated';
  if (template !== 'plain' && template !== 'replicated') throw new UsageError(`--spec: template="${template}" must be plain or replicated`);
  return { memory: quantity('memory'), disk: quantity('disk'), vcpus, template };
}
