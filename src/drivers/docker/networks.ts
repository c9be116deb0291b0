/**
 * Networks on a node: one Docker network per Drover Network, built on the node's link — driver `macvlan`
 * with that link as its parent (the test bed's port-less bridge drvl2-BASE, or a host NIC), or driver
 * `bridge` on an existing host bridge. Made on first use (idempotent, labelled as Drover's); an existing
 * one whose subnet, gateway, driver or link differ is reported, never replaced (containers may use it).
 * Also: whether a node has a link (its facts measured again, facts.ts), and the NICs a container really
 * has, read back from the engine for verify.
 */
import { DriverError } from '../driver.ts';
import type { NicBinding, ObservedNic } from '../../model/nics.ts';
import { loose, type ContainerInfo, type EndpointInfo } from './api.ts';
import type { Conn, Engine } from './engine.ts';
import { remeasure } from './facts.ts';
import { LABEL } from './names.ts';

const PREFIX = 'drover-net-';
const NETWORK_LABEL = 'drover.network';

/**
 * The name Drover gives the Docker network of Network `network` of `cluster` (one per engine: macvlan allows
 * one network per parent). Qualified by the cluster, `_` apart (a character no Drover name has), so two
 * clusters sharing an engine do not collide; networks are found by their labels first (findNetwork), so
 * ones made as `drover-net-<network>` before names were qualified keep serving their nodes.
 */
export const networkName = (cluster: string, network: string): string => `${PREFIX}${cluster}_${network}`;

/** The Drover Network a Docker network name stands for in `cluster`: either naming; undefined when not ours. */
export function networkOf(cluster: string, dockerName: string): string | undefined {
  if (!dockerName.startsWith(PREFIX)) return undefined;
  const rest = dockerName.slice(PREFIX.length);
  const sep = rest.indexOf('_');
  if (sep < 0) return rest; // the unqualified naming: only this cluster's containers are asked about
  return rest.slice(0, sep) === cluster ? rest.slice(sep + 1) : undefined;
}

/** This cluster's Docker network of Network `network` on the node, found by its labels, whatever its name. */
export async function findNetwork(e: Engine, c: Conn, network: string): Promise<NetworkInfo | undefined> {
  const filters = { label: [`${LABEL.cluster}=${e.cluster}`, `${NETWORK_LABEL}=${network}`] };
  const found = await e.call(c, `find network of ${network}`, (signal) => loose<NetworkInfo[]>(c.docker, 'listNetworks', { filters, abortSignal: signal }));
  return [...found].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0))[0];
}

export interface NetworkInfo {
  readonly Name: string;
  readonly Driver: string;
  readonly Labels?: Record<string, string> | null;
  readonly Options?: Record<string, string> | null;
  readonly IPAM?: { readonly Config?: readonly { readonly Subnet?: string; readonly Gateway?: string }[] | null };
}

const driverOf = (nic: NicBinding): string => (nic.mode === 'macvlan' ? 'macvlan' : 'bridge');
const linkOf = (n: NetworkInfo): string | undefined => n.Options?.parent ?? n.Options?.['com.docker.network.bridge.name'];

/** The create body of the Docker network for a binding. */
export function networkBody(cluster: string, nic: NicBinding): Record<string, unknown> {
  return {
    Name: networkName(cluster, nic.network),
    Driver: driverOf(nic),
    CheckDuplicate: true,
    Options: nic.mode === 'macvlan' ? { parent: nic.link, macvlan_mode: 'bridge' } : { 'com.docker.network.bridge.name': nic.link },
    IPAM: { Driver: 'default', Config: [{ Subnet: nic.subnet, ...(nic.gateway ? { Gateway: nic.gateway } : {}) }] },
    Labels: { [LABEL.cluster]: cluster, [NETWORK_LABEL]: nic.network },
  };
}

/** How an existing Docker network differs from what the binding needs ("subnet 10.0.0.0/24, not 10.1.0.0/24"); empty when it fits. */
export function networkDrift(have: NetworkInfo, nic: NicBinding): string[] {
  const out: string[] = [];
  const ipam = have.IPAM?.Config?.[0] ?? {};
  const put = (what: string, is: string | undefined, want: string): void => { if (is !== want) out.push(`${what} ${is ?? 'none'}, not ${want}`); };
  put('driver', have.Driver, driverOf(nic));
  put('link', linkOf(have), nic.link);
  put('subnet', ipam.Subnet, nic.subnet);
  if (nic.gateway) put('gateway', ipam.Gateway, nic.gateway);
  return out;
}

/**
 * Make the Docker network of `nic` exist on the node, as the binding says; an existing one that differs is an
 * error. One at a time per node and network: the engine's duplicate-name check is not atomic, and instances
 * created in parallel on one node would otherwise make two networks of one name.
 */
export function ensureNetwork(e: Engine, c: Conn, nic: NicBinding): Promise<string> {
  const key = `${c.name}\0${nic.network}`;
  const next = (e.networkInFlight.get(key) ?? Promise.resolve()).catch(() => {}).then(() => ensureNetworkNow(e, c, nic));
  e.networkInFlight.set(key, next);
  next.then(() => {}, () => {}).finally(() => { if (e.networkInFlight.get(key) === next) e.networkInFlight.delete(key); });
  return next;
}

/** The name of the Docker network `nic` attaches to, made when there is none. */
async function ensureNetworkNow(e: Engine, c: Conn, nic: NicBinding): Promise<string> {
  const name = networkName(e.cluster, nic.network);
  const check = (have: NetworkInfo): string => {
    if (!e.ours(have.Labels ?? {})) throw e.foreign(c, 'network', have.Name);
    const drift = networkDrift(have, nic);
    if (drift.length > 0) {
      throw new DriverError(`node ${c.name}: Docker network ${have.Name} does not match Network ${nic.network}: ${drift.join('; ')}. ` +
        `Drover does not replace a network that containers may use: remove it (docker network rm ${have.Name}) or change the Network`, false, c.name);
    }
    return have.Name;
  };
  const have = (await findNetwork(e, c, nic.network)) ?? (await inspectNetwork(e, c, name));
  if (have) return check(have);
  try {
    await e.call(c, `create network ${name}`, (signal) => loose<unknown>(c.docker, 'createNetwork', { ...networkBody(e.cluster, nic), abortSignal: signal }));
    return name;
  } catch (err) {
    const now = err instanceof DriverError && err.status !== undefined ? await inspectNetwork(e, c, name) : undefined;
    if (now) return check(now); // made concurrently (one instance's create raced another's)
    if (err instanceof DriverError && err.status !== undefined && !(await hasLink(e, c, nic.link))) {
      throw new DriverError(`node ${c.name}: Network ${nic.network} needs link ${nic.link}, which the node does not have (${err.message})`, false, c.name);
    }
    throw err;
  }
}

export function inspectNetwork(e: Engine, c: Conn, name: string): Promise<NetworkInfo | undefined> {
  return e.maybe(c, `inspect network ${name}`, (signal) => loose<NetworkInfo>(c.docker.getNetwork(name), 'inspect', { abortSignal: signal }));
}

/**
 * The create-time settings of a container with these NICs, on the Docker networks `names` gives by Network:
 * the first on its network mode with its MAC (API 1.41, Docker 20.10, sets the MAC of that one endpoint only,
 * from Config.MacAddress; 1.44 takes one per endpoint), every one with its address.
 */
export function nicSettings(nics: readonly NicBinding[], names: ReadonlyMap<string, string>): { MacAddress: string; NetworkMode: string; NetworkingConfig: { EndpointsConfig: Record<string, object> } } {
  const EndpointsConfig: Record<string, object> = {};
  for (const n of nics) EndpointsConfig[names.get(n.network)!] = { IPAMConfig: { IPv4Address: n.ip }, MacAddress: n.mac };
  return { MacAddress: nics[0]!.mac, NetworkMode: names.get(nics[0]!.network)!, NetworkingConfig: { EndpointsConfig } };
}

/**
 * The most NICs an instance may have on an engine of this API version: one below 1.44, which sets the MAC of
 * one endpoint only (the others would get MACs derived from their addresses); undefined: no limit.
 */
export function maxNicsOf(apiVersion: string | undefined): number | undefined {
  const [major = 0, minor = 0] = (apiVersion ?? '0.0').split('.').map(Number);
  return major > 1 || (major === 1 && minor >= 44) ? undefined : 1;
}

/**
 * The engine's limit on NICs per instance (maxNicsOf its API version); undefined when the engine does not say
 * (the probe's verdict comes from /info, and the driver refuses too many NICs at create anyway). `server` is
 * the engine's server version as /info shows it now: the cached answer stands while it is the same.
 */
export async function engineMaxNics(e: Engine, c: Conn, server?: string): Promise<number | undefined> {
  return maxNicsOf(await apiVersion(e, c, server));
}

/** The engine's API version, asked once per engine binary (Engine.versionCache). */
async function apiVersion(e: Engine, c: Conn, server?: string): Promise<string | undefined> {
  const have = e.versionCache.get(c.name);
  if (have && (server === undefined || server === have.server)) return have.api;
  const v = await e.call(c, 'version', (signal) => loose<{ Version?: string; ApiVersion?: string }>(c.docker, 'version', { abortSignal: signal })).catch(() => undefined);
  if (v?.Version !== undefined) e.versionCache.set(c.name, { server: v.Version, ...(v.ApiVersion !== undefined && { api: v.ApiVersion }) });
  return v?.ApiVersion;
}

/**
 * Make every network of these NICs exist on the node, and refuse what the engine cannot do: more than
 * one NIC where the engine sets one MAC only (the others would get MACs derived from their addresses).
 * Returns the Docker network of each Network.
 */
export async function prepareNics(e: Engine, c: Conn, instance: string, nics: readonly NicBinding[]): Promise<ReadonlyMap<string, string>> {
  const max = nics.length > 1 ? await engineMaxNics(e, c) : undefined;
  if (max !== undefined && nics.length > max) {
    throw new DriverError(`node ${c.name}: instance ${instance} has ${nics.length} NICs, but this engine (Docker API below 1.44) ` +
      'sets the MAC of one network endpoint only: give it one NIC, or run Docker 25 or newer on the node', false, c.name);
  }
  const names = new Map<string, string>();
  for (const n of nics) names.set(n.network, await ensureNetwork(e, c, n));
  return names;
}

/** Attach the NICs after the first to a created container (the engine's create takes one network); attached already is done. */
export async function connectRest(e: Engine, c: Conn, containerId: string, nics: readonly NicBinding[]): Promise<void> {
  for (const n of nics.slice(1)) {
    const name = (await findNetwork(e, c, n.network))?.Name ?? networkName(e.cluster, n.network);
    try {
      await e.call(c, `connect ${containerId} to ${name}`, (signal) => loose<unknown>(c.docker.getNetwork(name), 'connect', {
        Container: containerId, EndpointConfig: { IPAMConfig: { IPv4Address: n.ip }, MacAddress: n.mac }, abortSignal: signal,
      }));
    } catch (err) {
      if (!(err instanceof DriverError && err.status === 403)) throw err;
    }
  }
}

/** A container's endpoints on this cluster's Drover networks (either naming), by Network. */
function droverEndpoints(cluster: string, networks: Readonly<Record<string, EndpointInfo>> | null | undefined): [string, EndpointInfo][] {
  return Object.entries(networks ?? {}).flatMap(([name, ep]): [string, EndpointInfo][] => {
    const network = networkOf(cluster, name);
    return network === undefined ? [] : [[network, ep]];
  });
}

/**
 * The Drover NICs among a container's endpoints, in the order its `drover.nics` label gives (the spec's; the
 * engine lists networks by name): what the node shows, the address and MAC in use.
 */
export function seenNics(cluster: string, networks: Readonly<Record<string, EndpointInfo>> | null | undefined, order = ''): ObservedNic[] {
  const rank = (n: string): number => { const i = order.split(',').indexOf(n); return i < 0 ? Number.MAX_SAFE_INTEGER : i; };
  return droverEndpoints(cluster, networks)
    .map(([network, n]) => ({ network, ip: n.IPAddress || n.IPAMConfig?.IPv4Address || '', mac: (n.MacAddress ?? '').toLowerCase() }))
    .sort((a, b) => rank(a.network) - rank(b.network) || (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
}

/** The container was created with exactly these NICs: each network with its address, and the first NIC's MAC. */
export function nicsConfigured(cluster: string, info: ContainerInfo, nics: readonly NicBinding[]): boolean {
  const ours = new Map(droverEndpoints(cluster, info.NetworkSettings?.Networks));
  if (ours.size !== nics.length) return false;
  if (nics.length > 0 && (info.Config.MacAddress ?? '').toLowerCase() !== nics[0]!.mac) return false;
  return nics.every((n) => ours.get(n.network)?.IPAMConfig?.IPv4Address === n.ip);
}

/** Whether the node has `link` now (a create failed): measured again, not read from its facts (facts.ts). */
async function hasLink(e: Engine, c: Conn, link: string): Promise<boolean> {
  try {
    return (await remeasure(e, c)).links?.includes(link) ?? true; // cannot tell: the engine's own error stands
  } catch {
    return true;
  }
}

/**
 * Wait until a stopped container's Drover endpoints are gone (the engine releases them when it handles the
 * exit, after a stop or checkpoint call returned): only then may another copy start with its addresses and
 * MACs, so two copies never answer on one address. Rejects past `timeoutMs` (the caller does not go on).
 */
export async function endpointsReleased(e: Engine, c: Conn, containerId: string, timeoutMs = 10_000): Promise<void> {
  for (const t0 = Date.now(); ;) {
    const info = await e.inspectContainer(c, containerId);
    const held = droverEndpoints(e.cluster, info?.NetworkSettings?.Networks).filter(([, ep]) => ep.EndpointID);
    if (!info || (!info.State.Running && held.length === 0)) return;
    if (Date.now() - t0 > timeoutMs) {
      throw new DriverError(`node ${c.name}: container ${containerId} still holds its endpoint on ${held.map(([n]) => n).join(', ') || 'its networks'} ` +
        `${timeoutMs} ms after it stopped`, true, c.name);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
