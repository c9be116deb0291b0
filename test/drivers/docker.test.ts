/**
 * The driver contract against the docker driver on real engines (scripts/testbed: started here unless
 * DROVER_TESTBED_NODES says where one runs). Needs root, docker.io, busybox-static (scripts/ci-setup-docker).
 */
import { createDockerDriver } from '../../src/drivers/docker/index.ts';
import { driverContract } from '../support/contract.ts';
import { dockerDiskData, engineAt, startTestbed } from '../support/testbed.ts';

driverContract('docker', async () => {
  const tb = await startTestbed(2, 30);
  const cluster = `contract-${process.pid}`;
  const nodes = tb.nodes(cluster).slice(0, 2);
  const driver = createDockerDriver({ cluster, nodes, timeoutMs: 20_000, stopTimeoutS: 2, helperImage: tb.image });
  const engines = new Map(nodes.map((n) => [n.name, engineAt(n.endpoint!)]));
  return {
    driver,
    nodes: nodes.map((n) => n.name),
    spec: (name) => ({
      name, image: tb.image, memory: 32 << 20, vcpus: 0.5, diskTemplate: 'replicated',
      disks: [{ size: 64 << 20, mount: '/data' }], env: { INSTANCE: name },
      command: ['sh', '-c', "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); usleep 100000; done"], ports: [],
    }),
    data: dockerDiskData(tb.image, (node) => engines.get(node)!),
    teardown: () => tb.down(),
  };
});
