/**
 * VMs on Docker engines (`hypervisor: kvm`): QEMU inside a container of Drover's own QEMU image. The API the
 * rest of the docker driver (and block replication / live migration, drivers/qemu/) builds on:
 *
 *   argvOf(spec, {accel, incoming})    the QEMU argv of a spec: identical on a migration's source and
 *                                      destination (machine type pinned, disks `disk0…` on virtio-blk)
 *   createVm(e, node, spec, gen, opts) volumes, disk files (seeded from the spec's image), boot files, then the
 *                                      container (stopped); `incoming` makes a migration destination (-incoming
 *                                      defer -S), `name` another container name while both copies exist
 *   startVm / stopVm / removeVmContainer   start and wait for `running`; ACPI powerdown → quit → kill; remove
 *   openQmp(e, conn, containerId)      THE QMP connection of that QEMU (one per VM, kept, reopened after it closes)
 *   socketStream(e, conn, id, socket)  a duplex stream to any unix socket in the container (console, NBD over unix)
 *   nodeAccel(e, conn)                 kvm | tcg for that node (hardware KVM only)
 *   ensureQemuImage / qemuBuild        the image on a node / its version, name and machine types
 *
 * Networking between nodes: the VM container uses the HOST's network namespace (NetworkMode host), like the
 * test bed's engines which share the host's netns. A migration stream or an NBD export listens on the node's
 * own address (Conn.address, the IP of its tcp endpoint; 127.0.0.(BASE+I) on the test bed), on a port chosen
 * per operation; nothing listens on TCP otherwise. QMP and the console are never on TCP: the master reaches
 * them through the engine API (exec + socat on the unix sockets), which carries the node's mutual TLS.
 */
export { argvOf, createVm, startVm, stopVm, removeVmContainer, isVmContainer, CONTAINER_OVERHEAD, POWERDOWN_TIMEOUT_MS, type VmContainerOptions } from './lifecycle.ts';
export { openQmp, closeAll } from './monitor.ts';
export { socketStream } from './streams.ts';
export { nodeAccel, type Accel } from './accel.ts';
export { ensureQemuImage, qemuBuild, type QemuBuild } from './qemu-image.ts';
export { VM_PATHS, diskNode, DEFAULT_MACHINE } from '../../qemu/argv.ts';
export { consoleLog, consoleStream, vmLogs, vmConsole, CONSOLE_ESCAPE, type VmLogRequest, type VmConsoleEnds } from './console.ts';
