/*
 * The virtio-blk driver (guest/ABI.md, "The disk"): one device at
 * ABI_VIRTIO_BLK_ADDR, one queue, no interrupts. Any CPU may submit and
 * wait; a spinlock guards the descriptors and both rings' driver state.
 *
 * A request is the caller's: it must stay in place, untouched, from
 * vblk_submit until vblk_done says it was reaped. The device reads its
 * header and writes its status byte; the data buffer must be in RAM
 * (the identity map makes a pointer its guest-physical address).
 *
 * Waiting. VBLK_POLL spins; VBLK_HALT halts with HC_HALT between looks.
 * The device wakes, at the end of a round, every CPU that wrote
 * QueueNotify before the round began, so a CPU may wait by halting only
 * for requests it submitted itself (vblk_submit notifies): otherwise no
 * wake is owed to it and it may sleep until the deadlock error.
 */
#ifndef VBLK_H
#define VBLK_H

#include "abi.h"
#include "types.h"

/* Request types (virtio 1.x, 5.2.6). */
#define VBLK_T_IN     0
#define VBLK_T_OUT    1
#define VBLK_T_FLUSH  4
#define VBLK_T_GET_ID 8

#define VBLK_ID_BYTES 20	/* GET_ID's data: the id, NUL-padded */

/* Status bytes: the device's, and the driver's "not yet" value. */
#define VBLK_S_OK      0
#define VBLK_S_IOERR   1
#define VBLK_S_UNSUPP  2
#define VBLK_S_PENDING 0xff

/* Errors, all negative so they never look like a status byte. */
#define VBLK_ENODEV    (-1)	/* no virtio-blk device (run with --disk) */
#define VBLK_EFEATURES (-2)	/* VERSION_1 missing, or FEATURES_OK did not stick */
#define VBLK_EQUEUE    (-3)	/* queue 0 absent, live already, or too small */
#define VBLK_ERESET    (-4)	/* the device set DEVICE_NEEDS_RESET */
#define VBLK_EBROKEN   (-5)	/* the used ring named a chain the driver never published */
#define VBLK_EINVAL    (-6)	/* a request the driver will not send */

enum vblk_wait {
	VBLK_POLL,
	VBLK_HALT,
};

/* struct virtio_blk_req's header, which the device reads. */
struct vblk_hdr {
	u32 type;
	u32 reserved;
	u64 sector;
};

struct vblk_req {
	struct vblk_hdr hdr;
	void *buf;		/* the data; NULL with len 0 (FLUSH) */
	u32 len;		/* bytes: whole sectors for IN and OUT */
	volatile u8 status;	/* VBLK_S_PENDING until the device writes it */
	volatile u8 done;	/* set once reaped: the request is the caller's again */
	u16 head;		/* first descriptor, while in flight */
	u32 used_len;		/* bytes the device reported writing */
};

/* vblk_init probes the device and sets it up; 0 or a VBLK_E* error.
 * Call it once, on one CPU, before any other vblk function. */
int vblk_init(void);
/* vblk_error names an error code, for messages. */
const char *vblk_error(int err);

u64 vblk_capacity(void);	/* in ABI_SECTOR_SIZE sectors */
int vblk_readonly(void);	/* VIRTIO_BLK_F_RO was offered */
int vblk_can_flush(void);	/* VIRTIO_BLK_F_FLUSH was offered */
u32 vblk_queue_size(void);	/* descriptors in queue 0 */
u32 vblk_blk_size(void);	/* config blk_size, ABI_SECTOR_SIZE when not offered */
u32 vblk_seg_max(void);		/* config seg_max, 0 when not offered */

/* vblk_check_device returns 0 while the device serves the queue,
 * VBLK_ERESET or VBLK_EBROKEN once it cannot (it reads Status: one exit). */
int vblk_check_device(void);

/* vblk_req_init fills r for a request and marks it pending. */
void vblk_req_init(struct vblk_req *r, u32 type, u64 sector, void *buf, u32 len);

/* vblk_submit sets r's status to VBLK_S_PENDING, publishes it, and
 * notifies the device. While the ring has no room it waits for
 * completions the way how says. 0, or a negative error. */
int vblk_submit(struct vblk_req *r, enum vblk_wait how);

/* vblk_reap takes every completion off the used ring, frees its
 * descriptors and marks its request done. It returns how many it took,
 * or VBLK_EBROKEN. */
int vblk_reap(void);

static inline int vblk_done(const struct vblk_req *r)
{
	return __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
}

/* vblk_wait waits until r is reaped (reaping as it goes) and returns its
 * status byte, or a negative error. VBLK_HALT needs r submitted by this
 * CPU (see the top of this file). */
int vblk_wait(struct vblk_req *r, enum vblk_wait how);

/* vblk_poll_status spins until r's status byte is written and returns
 * it, or a negative error. The data is in place then, but r is not
 * reaped: someone must still vblk_wait for it (or vblk_reap) before it
 * is used again. For CPUs that consume data another CPU submitted. */
int vblk_poll_status(const struct vblk_req *r);

/* Synchronous helpers: submit, wait, return the status or an error. */
int vblk_io(u32 type, u64 sector, void *buf, u32 len, enum vblk_wait how);
/* vblk_get_id fills id with the device's id, NUL-terminated. */
int vblk_get_id(char id[VBLK_ID_BYTES + 1], enum vblk_wait how);
int vblk_flush(enum vblk_wait how);

#endif
