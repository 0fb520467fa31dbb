// Package virtio is the device model of the guest's disk: a virtio-blk
// device (virtio 1.x, split virtqueue) on the virtio-mmio transport,
// version 2, as guest/ABI.md ("The disk") specifies it. It is pure logic
// over two interfaces, guest RAM (Memory) and the backing image (Image),
// and imports nothing of KVM or of the machine core, so that every rule
// the guest can break is tested here without a VM.
//
// Blk is both halves of the device. Its register file (Read, Write)
// serves the vCPUs' MMIO exits; Write reports a notify, and the machine
// core's device thread then runs a round in three phases:
//
//   - Fetch reads every available chain from guest memory: the
//     available ring, the descriptors, the request headers and the data
//     of writes;
//   - Serve performs each request on the image, touching no guest memory;
//   - Complete writes the results into guest memory: read data, status
//     bytes, used ring elements, then the used ring's idx once.
//
// The split exists for CREW. On a recording the device is one more actor,
// the DMA actor, and each guest-memory phase is one DMA transaction of
// it: the machine core takes the rights to the pages the phase touches
// (each Memory call takes them), and logs the phase as one transfer. The
// disk I/O between the phases, which may take milliseconds, holds no
// rights, so the vCPUs run on meanwhile; and a replay, which has no disk
// file, needs only the transfers. Blk never holds its own lock while it
// calls Memory, so a vCPU in Read or Write never waits for a DMA
// transaction.
//
// Every guest mistake ends in a defined state, never a panic: a register
// write the ABI forbids is an error Write returns, a request the disk
// cannot serve completes with an error status, and a chain the device
// cannot parse sets DEVICE_NEEDS_RESET and stops the queue until the
// driver resets the device. What one request may make the VMM allocate is
// bounded by MaxRequestData.
package virtio
