/*
 * What the virtio 1.x spec fixes and the block driver uses: the
 * virtio-mmio (version 2) register offsets, the device status bits and
 * the split virtqueue's layout. Everything is little-endian, as x86 is.
 */
#ifndef VIRTIO_H
#define VIRTIO_H

#include "types.h"

/* virtio-mmio registers, offsets into the register window (4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" */
#define VIRTIO_MMIO_MODERN  2          /* Version of the virtio 1.x layout */
#define VIRTIO_ID_BLOCK     2

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

/* Feature bit common to all devices (6). */
#define VIRTIO_F_VERSION_1 32

/* The split virtqueue (2.7): a descriptor table (16-byte aligned), the
 * available ring the driver writes (2-byte aligned) and the used ring
 * the device writes (4-byte aligned). */
struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

#define VIRTQ_DESC_F_NEXT  1  /* next holds the chain's next descriptor */
#define VIRTQ_DESC_F_WRITE 2  /* the device writes the buffer (else reads it) */

struct virtq_avail {
	u16 flags;
	u16 idx;
	u16 ring[];	/* then u16 used_event, unused without EVENT_IDX */
};

struct virtq_used_elem {
	u32 id;		/* head descriptor of the completed chain */
	u32 len;	/* bytes the device wrote into the chain */
};

struct virtq_used {
	u16 flags;
	u16 idx;
	struct virtq_used_elem ring[];	/* then u16 avail_event */
};

/*
 * MMIO: one plain 32-bit mov through a register. Every register access
 * exits to the VMM, which decodes the instruction to emulate it, so keep
 * it the simplest form there is (no 64-bit absolute address, no two
 * halves). The "memory" clobber also makes a notify a compiler barrier:
 * ring stores before it are emitted before it.
 */
static inline u32 mmio_read32(u64 addr)
{
	u32 v;
	asm volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write32(u64 addr, u32 v)
{
	asm volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

#endif
