/** The Docker networks' pure parts: the create body, drift, the create-time NIC settings, NICs read back in spec order. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { networkBody, networkDrift, nicSettings, seenNics, type NetworkInfo } from '../../src/drivers/docker/networks.ts';
import { observeContainers } from '../../src/drivers/docker/probe.ts';
import type { NicBinding } from '../../src/model/nics.ts';

const test = suite('docker networks (pure)');
const lan: NicBinding = { network: 'lan', ip: '10.1.0.10', mac: '02:d7:00:00:00:10', prefixLength: 24, subnet: '10.1.0.0/24', gateway: '10.1.0.1', link: 'eth1', mode: 'macvlan' };
const br: NicBinding = { ...lan, network: 'br', ip: '10.2.0.10', mac: '02:d7:00:00:00:11', subnet: '10.2.0.0/24', gateway: '10.2.0.1', link: 'br0', mode: 'bridged' };

test('a macvlan network on the link, a bridge network on the existing bridge, labelled as Drover\'s', () => {
  assert.equal(networkBody('c', lan), {
    Name: 'drover-net-lan', Driver: 'macvlan', CheckDuplicate: true, Options: { parent: 'eth1', macvlan_mode: 'bridge' },
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
  assert.equal(nicSettings([lan, br]), {
    MacAddress: '02:d7:00:00:00:10', NetworkMode: 'drover-net-lan',
    NetworkingConfig: { EndpointsConfig: {
      'drover-net-lan': { IPAMConfig: { IPv4Address: '10.1.0.10' }, MacAddress: '02:d7:00:00:00:10' },
      'drover-net-br': { IPAMConfig: { IPv4Address: '10.2.0.10' }, MacAddress: '02:d7:00:00:00:11' },
    } },
  });
});

test('NICs read back: Drover\'s networks only, in the label\'s order, MACs lower-case', () => {
  const networks = {
    'drover-net-br': { IPAddress: '10.2.0.10', MacAddress: '02:D7:00:00:00:11' },
    'drover-net-lan': { IPAddress: '10.1.0.10', MacAddress: '02:d7:00:00:00:10' },
    bridge: { IPAddress: '172.17.0.2', MacAddress: '02:42:ac:11:00:02' },
  };
  assert.equal(seenNics(networks, 'lan,br'), [
    { network: 'lan', ip: '10.1.0.10', mac: '02:d7:00:00:00:10' }, { network: 'br', ip: '10.2.0.10', mac: '02:d7:00:00:00:11' },
  ]);
  assert.equal(seenNics(networks).map((n) => n.network), ['br', 'lan'], 'no label: by name');
  assert.equal(seenNics(null), []);
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
