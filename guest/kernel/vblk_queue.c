/*
 * virtio-blk requests: submission onto queue 0's available ring,
 * completion off its used ring, and the two ways to wait (vblk.h).
 *
 * A request is a chain of three descriptors (header, data, status; two
 * without data). The lock covers the free list, owner[], the available
 * ring and the reaping of the used ring; the device runs concurrently
 * and sees a chain only once avail->idx, stored last, covers it.
 */
#include "hypercall.h"
#include "string.h"
#include "vblk_dev.h"

/* Turns of a polling loop between two reads of Status: each read is an
 * exit to the VMM, and DEVICE_NEEDS_RESET is a rare failure. */
#define SPINS_PER_CHECK 65536

/* A write of 0 (queue 0) asks the device for a round. */
static void notify(void)
{
	vblk_reg_write(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

void vblk_req_init(struct vblk_req *r, u32 type, u64 sector, void *buf, u32 len)
{
	r->hdr.type = type;
	r->hdr.reserved = 0;
	r->hdr.sector = sector;
	r->buf = buf;
	r->len = len;
	r->status = VBLK_S_PENDING;
	r->done = 0;
	r->head = 0;
	r->used_len = 0;
}

/* take_desc pops a free descriptor; under the lock, with one free. */
static u16 take_desc(void)
{
	struct vblk_dev *d = &vblk_dev;
	u16 i = d->free_head;

	d->free_head = d->desc[i].next;
	d->nfree--;
	return i;
}

/* free_chain gives a completed chain's descriptors back; under the lock.
 * The chain is the driver's own (the device never writes descriptors),
 * so its NEXT flags end it within three steps. */
static void free_chain(u16 head)
{
	struct vblk_dev *d = &vblk_dev;
	u16 i = head;
	u32 n = 1;

	while (d->desc[i].flags & VIRTQ_DESC_F_NEXT) {
		i = d->desc[i].next;
		n++;
	}
	d->desc[i].next = d->free_head;
	d->free_head = head;
	d->nfree += n;
}

/* publish builds r's chain and makes it available; under the lock, with
 * enough descriptors free. IN and GET_ID data is device-written; OUT
 * data, and that of any other type, device-read. */
static void publish(struct vblk_req *r)
{
	struct vblk_dev *d = &vblk_dev;
	u16 head = take_desc(), last = head;

	d->desc[head].addr = (u64)&r->hdr;
	d->desc[head].len = sizeof(r->hdr);
	d->desc[head].flags = VIRTQ_DESC_F_NEXT;
	if (r->len) {
		u16 data = take_desc();
		int writes = r->hdr.type == VBLK_T_IN || r->hdr.type == VBLK_T_GET_ID;
		d->desc[last].next = data;
		d->desc[data].addr = (u64)r->buf;
		d->desc[data].len = r->len;
		d->desc[data].flags = VIRTQ_DESC_F_NEXT | (writes ? VIRTQ_DESC_F_WRITE : 0);
		last = data;
	}
	u16 status = take_desc();
	d->desc[last].next = status;
	d->desc[status].addr = (u64)&r->status;
	d->desc[status].len = 1;
	d->desc[status].flags = VIRTQ_DESC_F_WRITE;
	d->desc[status].next = 0;

	d->owner[head] = r;
	r->head = head;
	d->avail->ring[d->avail_idx & (d->qsize - 1)] = head;
	d->avail_idx++;
	/* Release: the descriptors and the ring slot before the index. */
	__atomic_store_n(&d->avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

int vblk_reap(void)
{
	struct vblk_dev *d = &vblk_dev;
	int n = 0;

	if (!d->ready)
		return 0;
	/* After a failure nothing is reaped: a request the caller gave up
	 * on (perhaps on its stack) must never be written again. */
	s32 f = __atomic_load_n(&d->failed, __ATOMIC_ACQUIRE);
	if (f)
		return f;
	/* Unlocked look first: pollers call this in their loop. */
	if (__atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE) == d->last_used)
		return 0;
	spin_lock(&d->lock);
	/* Acquire: the device stored the elements before the index. */
	u16 end = __atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE);
	while (d->last_used != end) {
		volatile struct virtq_used_elem *e = &d->used->ring[d->last_used & (d->qsize - 1)];
		u32 id = e->id, len = e->len;
		struct vblk_req *r = id < d->qsize ? d->owner[id] : NULL;
		if (!r) {
			vblk_fail(VBLK_EBROKEN);
			n = VBLK_EBROKEN;
			break;
		}
		d->owner[id] = NULL;
		free_chain((u16)id);
		r->used_len = len;
		/* Last: once done is set the request may be reused at once. */
		__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
		d->last_used++;
		n++;
	}
	spin_unlock(&d->lock);
	return n;
}

/*
 * idle is one turn of a wait whose reap (which took reaped completions)
 * did not end it. Polling spins, and reads Status now and then. Halting
 * reads Status when nothing was reaped (the wake was a stale one, or the
 * device stopped), then halts; with notify_first it asks for a round
 * first, so that the round's end owes this CPU a wake even when none of
 * the chains in flight is its own.
 */
static int idle(enum vblk_wait how, int reaped, u64 *spins, int notify_first)
{
	if (how == VBLK_POLL) {
		if (++*spins % SPINS_PER_CHECK == 0)
			return vblk_check_device();
		cpu_relax();
		return 0;
	}
	if (reaped == 0) {
		int err = vblk_check_device();
		if (err)
			return err;
	}
	if (notify_first)
		notify();
	hc_halt();
	return 0;
}

/*
 * wait_for_room waits until need descriptors may be free. A full ring is
 * full of published chains, so a round that starts after a notify
 * completes all of them before it ends and wakes the notifier.
 */
static int wait_for_room(u32 need, enum vblk_wait how)
{
	u64 spins = 0;

	for (;;) {
		int n = vblk_reap();
		if (n < 0)
			return n;
		if (__atomic_load_n(&vblk_dev.nfree, __ATOMIC_RELAXED) >= need)
			return 0;
		int err = idle(how, n, &spins, 1);
		if (err)
			return err;
	}
}

int vblk_submit(struct vblk_req *r, enum vblk_wait how)
{
	struct vblk_dev *d = &vblk_dev;
	u32 need = r->len ? 3 : 2;

	if (!d->ready)
		return VBLK_ENODEV;
	if (r->len && !r->buf)
		return VBLK_EINVAL;
	s32 f = __atomic_load_n(&d->failed, __ATOMIC_ACQUIRE);
	if (f)
		return f;
	r->status = VBLK_S_PENDING;
	r->done = 0;
	r->used_len = 0;
	for (;;) {
		spin_lock(&d->lock);
		if (d->nfree >= need)
			break;
		spin_unlock(&d->lock);
		/* Another CPU may take the room first: check again, locked. */
		int err = wait_for_room(need, how);
		if (err)
			return err;
	}
	publish(r);
	spin_unlock(&d->lock);
	/* Notify outside the lock: it is an exit, and other CPUs may submit
	 * meanwhile; the round takes their chains too. */
	notify();
	return 0;
}

int vblk_wait(struct vblk_req *r, enum vblk_wait how)
{
	u64 spins = 0;

	for (;;) {
		int n = vblk_reap();
		if (vblk_done(r))
			return r->status;
		if (n < 0)
			return n;
		int err = idle(how, n, &spins, 0);
		if (err)
			return err;
	}
}

int vblk_poll_status(const struct vblk_req *r)
{
	for (u64 spins = 1;; spins++) {
		/* Acquire: the device wrote the data before the status byte. */
		u8 s = __atomic_load_n(&r->status, __ATOMIC_ACQUIRE);
		if (s != VBLK_S_PENDING)
			return s;
		if (spins % SPINS_PER_CHECK == 0) {
			int err = vblk_check_device();
			if (err)
				return err;
		}
		cpu_relax();
	}
}

int vblk_io(u32 type, u64 sector, void *buf, u32 len, enum vblk_wait how)
{
	struct vblk_req r;

	vblk_req_init(&r, type, sector, buf, len);
	int err = vblk_submit(&r, how);
	if (err)
		return err;
	return vblk_wait(&r, how);
}

int vblk_get_id(char id[VBLK_ID_BYTES + 1], enum vblk_wait how)
{
	memset(id, 0, VBLK_ID_BYTES + 1);
	return vblk_io(VBLK_T_GET_ID, 0, id, VBLK_ID_BYTES, how);
}

/* vblk_flush sends FLUSH only when the device offered it (5.2.6.2). */
int vblk_flush(enum vblk_wait how)
{
	if (!vblk_can_flush())
		return VBLK_EINVAL;
	return vblk_io(VBLK_T_FLUSH, 0, NULL, 0, how);
}
