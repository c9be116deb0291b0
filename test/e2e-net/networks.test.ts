/** The Docker networks' pure parts: the create body, drift, the create-time NIC settings, NICs read back in spec order. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { networkBody, networkDrift, networkName, networkOf, nicSettings, nicsConfigured, seenNics, type NetworkInfo } from '../../src/drivers/docker/networks.ts';
import { observeContainers } from '../../src/drivers/docker/probe.ts';
import type { NicBinding } from '../../src/model/nics.ts';

const test = suite('docker networks (pure)');
const lan: NicBinding = { network: 'lan', ip: '10.1.0.10', mac: '02:d7:00:00:00:10', prefixLength: 24, subnet: '10.1.0.0/24', gateway: '10.1.0.1', link: 'eth1', mode: 'macvlan' };
const br: NicBinding = { ...lan, network: 'br', ip: '10.2.0.10', mac: '02:d7:00:00:00:11', subnet: '10.2.0.0/24', gateway: '10.2.0.1', link: 'br0', mode: 'bridged' };

test('a macvlan network on the link, a bridge network on the existing bridge, labelled as Drover\'s', () => {
  assert.equal(networkBody('c', lan), {
    Name: 'drover-net-c_lan', Driver: 'macvlan', CheckDuplicate: true, Options: { parent: 'eth1', macvlan_mode: 'bridge' },
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' }] }, Labels: { 'drover.cluster': 'c', 'drover.network': 'lan' },
  });
  assert.equal((networkBody('c', br) as { Options: object }).Options, { 'com.docker.network.bridge.name': 'br0' });
});

test('drift: every field that differs, in words; none when it fits', () => {
  const have: NetworkInfo = { Name: 'drover-net-lan', Driver: 'macvlan', Options: { parent: 'eth1' }, IPAM: { Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' }] } };
  assert.equal(networkDrift(have, lan), []);
  assert.equal(networkDrift({ ...have, Options: { parent: 'eth2' }, IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] } }, lan),
    ['link eth2, not eth1', 'subnet 10.9.0.0/24, not 10.1.0.0/24', 'gateway 10.9.0.1, not 10.1.0.1']);
  assert.equal(networkDrift(have, br), ['driver macvlan, not bridge', 'link eth1, not br0', 'subnet 10.1.0.0/24, not 10.2.0.0/24', 'gateway 10.1.0.1, not 10.2.0.1']);
});

test('create-time settings: the first NIC is the network mode and carries the MAC; every NIC its address', () => {
  // lan's network was made before names were qualified by the cluster: found by its labels, used as it is
  assert.equal(nicSettings([lan, br], new Map([['lan', 'drover-net-lan'], ['br', 'drover-net-c_br']])), {
    MacAddress: '02:d7:00:00:00:10', NetworkMode: 'drover-net-lan',
    NetworkingConfig: { EndpointsConfig: {
      'drover-net-lan': { IPAMConfig: { IPv4Address: '10.1.0.10' }, MacAddress: '02:d7:00:00:00:10' },
      'drover-net-c_br': { IPAMConfig: { IPv4Address: '10.2.0.10' }, MacAddress: '02:d7:00:00:00:11' },
    } },
  });
});

test('NICs read back: Drover\'s networks only, in the label\'s order, MACs lower-case', () => {
  const networks = {
    'drover-net-c_br': { IPAddress: '10.2.0.10', MacAddress: '02:D7:00:00:00:11' },
    'drover-net-lan': { IPAddress: '10.1.0.10', MacAddress: '02:d7:00:00:00:10' },
    bridge: { IPAddress: '172.17.0.2', MacAddress: '02:42:ac:11:00:02' },
  };
  assert.equal(seenNics('c', networks, 'lan,br'), [
    { network: 'lan', ip: '10.1.0.10', mac: '02:d7:00:00:00:10' }, { network: 'br', ip: '10.2.0.10', mac: '02:d7:00:00:00:11' },
  ]);
  assert.equal(seenNics('c', networks).map((n) => n.network), ['br', 'lan'], 'no label: by name');
  assert.equal(seenNics('c', null), []);
});

test('names: qualified by the cluster, so two clusters on one engine do not collide; the unqualified naming still read', () => {
  assert.is(networkName('lab', 'lan'), 'drover-net-lab_lan');
  assert.is.not(networkName('lab', 'lan'), networkName('prod', 'lan'));
  assert.is(networkName('a-b', 'c'), 'drover-net-a-b_c');
  assert.is.not(networkName('a-b', 'c'), networkName('a', 'b-c'), 'hyphens in names cannot make two pairs one name');
  assert.is(networkOf('lab', 'drover-net-lab_lan'), 'lan');
  assert.is(networkOf('lab', 'drover-net-prod_lan'), undefined, 'another cluster\'s');
  assert.is(networkOf('lab', 'drover-net-lan'), 'lan', 'made before names were qualified');
  assert.is(networkOf('lab', 'bridge'), undefined);
  const info = { Config: { MacAddress: '02:d7:00:00:00:10' }, NetworkSettings: { Networks: {
    'drover-net-lan': { IPAMConfig: { IPv4Address: '10.1.0.10' } }, 'drover-net-prod_br': { IPAMConfig: { IPv4Address: '10.2.0.10' } },
  } } } as unknown as Parameters<typeof nicsConfigured>[1];
  assert.ok(nicsConfigured('c', info, [lan]), 'the old naming counts; another cluster\'s network does not');
  assert.not.ok(nicsConfigured('prod', info, [lan]), 'for cluster prod, its br endpoint is one more NIC than wanted');
});

test('the probe: a running container\'s NICs in spec order; none shown for a stopped one or one made without NICs', () => {
  const labels = (instance: string, nics?: string) => ({ 'drover.cluster': 'c', 'drover.instance': instance, ...(nics && { 'drover.nics': nics }) });
  const Networks = { 'drover-net-lan': { IPAddress: '10.1.0.10', MacAddress: '02:d7:00:00:00:10' } };
  const seen = observeContainers('c', [
    { Labels: labels('a', 'lan'), State: 'running', NetworkSettings: { Networks } },
    { Labels: labels('b', 'lan'), State: 'exited', NetworkSettings: { Networks } },
    { Labels: labels('c'), State: 'running', NetworkSettings: { Networks: { none: {} } } },
    { Labels: labels('d', 'lan'), State: 'running', NetworkSettings: { Networks: { none: {} } } },
  ]);
  assert.equal(seen.map((x) => [x.instance, x.nics]), [
    ['a', [{ network: 'lan', ip: '10.1.0.10', mac: '02:d7:00:00:00:10' }]], ['b', undefined], ['c', undefined], ['d', []],
  ]);
});

test.run();
