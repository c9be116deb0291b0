import { parseArgs } from 'node:util';
import { planRolls, type RollPlan } from '../../alloc/roll.ts';
import { nodeFacts } from '../../plan/facts.ts';
import { currentModel } from '../../plan/model.ts';
import { withLook } from '../context.ts';
import { EXIT, UsageError, type Io, STORE_OPTIONS } from '../io.ts';

export const usage = `drover maintenance plan [PATH...] [--group G] [--offline-maintenance] [--json]
  The groups of nodes that can be drained and rebooted together (Ganeti's hroller): no group holds
  both nodes of an instance, nor two primaries whose instances share a secondary (N+1 absorbs one
  node's failovers, not two). Largest group first, the master last; offline and drained nodes take no
  part. Instances without a secondary are listed with the group they go down with.
  --group G              only the nodes of node group G
  --offline-maintenance  instances are shut down for the roll: only the primary–secondary rule`;

export async function run(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'plan') throw new UsageError(`unknown subcommand ${JSON.stringify(sub ?? '')}\n${usage}`);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
    group: { type: 'string' }, 'offline-maintenance': { type: 'boolean' }, json: { type: 'boolean' }, ...STORE_OPTIONS,
  } });
  const code = await withLook(positionals, values, io, async ({ desired, store, observed }) => {
    const input = { desired, observed, store, now: Date.now() };
    const facts = nodeFacts(input);
    for (const c of desired.clusters.values()) {
      const model = currentModel(input, c, facts);
      if (values.group !== undefined && ![...model.nodes.values()].some((n) => n.group === values.group)) {
        throw new UsageError(`cluster ${c.name} has no node group ${JSON.stringify(values.group)}`);
      }
      const plan = planRolls(model, {
        ...(values.group !== undefined ? { group: values.group } : {}), offlineMaintenance: values['offline-maintenance'] === true,
      });
      if (values.json) io.out(JSON.stringify({ cluster: c.name, heuristic: plan.heuristic, groups: plan.groups }));
      else for (const line of render(c.name, plan)) io.out(line);
    }
    return EXIT.ok;
  });
  return code ?? EXIT.error;
}

function render(cluster: string, plan: RollPlan): string[] {
  const n = plan.groups.length;
  const out = [`Cluster ${cluster}: ${n} reboot group${n === 1 ? '' : 's'}, one after the other:`];
  plan.groups.forEach((g, i) => {
    const down = g.nonRedundant.length > 0 ? `  (down meanwhile, no secondary: ${g.nonRedundant.join(', ')})` : '';
    out.push(`  ${String(i + 1).padStart(3)}. ${g.nodes.join(', ')}${down}`);
  });
  return out;
}
