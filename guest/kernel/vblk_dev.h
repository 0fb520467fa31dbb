/*
 * The driver's own state, shared by its set-up (vblk.c) and its queue
 * (vblk_queue.c); nothing else includes this.
 */
#ifndef VBLK_DEV_H
#define VBLK_DEV_H

#include "abi.h"
#include "sync.h"
#include "types.h"
#include "virtio.h"
#include "vblk.h"

struct vblk_dev {
	/* Fixed once vblk_init returned. */
	int ready;
	u64 features;		/* what the driver accepted */
	u64 capacity;
	u32 blk_size, seg_max;
	u32 qsize;		/* a power of two, so u16 indices wrap evenly */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;

	/* Under lock. Free descriptors are chained through their next. */
	struct spinlock lock;
	u16 free_head;
	volatile u32 nfree;	/* read unlocked as a hint by waiters */
	u16 avail_idx;		/* the driver's copy of avail->idx */
	volatile u16 last_used;	/* used entries reaped; read unlocked as a hint */
	struct vblk_req *owner[ABI_VIRTIO_QUEUE_MAX];	/* by head descriptor */

	/* 0, or the VBLK_E* error that stopped the queue; set once, never cleared. */
	volatile s32 failed;
};

extern struct vblk_dev vblk_dev;

/* vblk_fail records the first error that stopped the queue. */
static inline void vblk_fail(s32 err)
{
	s32 none = 0;
	__atomic_compare_exchange_n(&vblk_dev.failed, &none, err, 0,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static inline u32 vblk_reg_read(u32 off)
{
	return mmio_read32(ABI_VIRTIO_BLK_ADDR + off);
}

static inline void vblk_reg_write(u32 off, u32 v)
{
	mmio_write32(ABI_VIRTIO_BLK_ADDR + off, v);
}

#endif
