/** Networks as status and verify print them. */
import type { PoolUsage } from '../../net/usage.ts';
import { table } from './table.ts';

export const poolTable = (usages: readonly PoolUsage[]): string =>
  table(['Network', 'Subnet', 'Pool', 'Used', 'Free', 'Static'], usages.map((u) => [u.network, u.subnet, String(u.size), String(u.used), String(u.size - u.used), String(u.static)]));
