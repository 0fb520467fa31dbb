/*
 * bad-disk MODE: a guest that drives the virtio-blk device wrongly, one
 * way per MODE, for the VMM's device model (guest/ABI.md, "The disk").
 * It pokes the registers itself and builds its chains by hand, for the
 * built-in driver would refuse to do any of this.
 *
 *   queue-size    QueueNum 3, not a power of two: the VMM stops the run.
 *   early-notify  QueueNotify before QueueReady and DRIVER_OK: likewise.
 *   outside-ram   an IN whose data buffer is far outside RAM: the device
 *                 sets DEVICE_NEEDS_RESET.
 *   loop          a chain whose first descriptor is its own next: likewise.
 *   ring-outside  the descriptor table outside RAM: likewise.
 *   bad-type      a request of type 77: status VIRTIO_BLK_S_UNSUPP.
 *   beyond        an IN of the sector at the capacity: status IOERR.
 *
 * After DEVICE_NEEDS_RESET the guest resets the device, sets it up again
 * and reads sector 0, to show the device serves again. It exits 0 when
 * the device did what the ABI says, 1 when not, 2 on bad usage or
 * without a disk. A mode that should stop the run exits 1 if it goes on.
 * Only CPU 0 touches the device; the others have nothing to do.
 */
#include "diskgen.h"
#include "helpers.h"
#include "string.h"
#include "vblk.h"
#include "virtio.h"

#define BD_QSIZE   4			/* a power of two, room for one 3-descriptor chain */
#define BD_FAR     0x7ff000000000UL	/* far above any RAM --mem allows */
#define BD_TIMEOUT 5000000000UL		/* ns to wait for the device, HC_TIME's unit */
#define BD_SPINS   4096			/* pauses between two reads of Status (each an exit) */
#define BD_TYPE_BAD 77			/* a request type virtio-blk does not define */

/* What bd_await saw, besides a status byte. */
#define BD_RESET   0x100		/* DEVICE_NEEDS_RESET */
#define BD_TIMEDOUT 0x101		/* neither within BD_TIMEOUT */

static const char bad_disk_usage[] =
	"queue-size|early-notify|outside-ram|loop|ring-outside|bad-type|beyond (needs --disk FILE)";

/* The queue's three areas, each on a page of its own, with the fixed
 * layout of a BD_QSIZE queue (virtio.h's structs end in open arrays). */
static struct virtq_desc bd_desc[BD_QSIZE] __attribute__((aligned(4096)));
static struct {
	u16 flags;
	volatile u16 idx;
	u16 ring[BD_QSIZE];
	u16 used_event;
} bd_avail __attribute__((aligned(4096)));
static struct {
	u16 flags;
	volatile u16 idx;
	struct virtq_used_elem ring[BD_QSIZE];
	u16 avail_event;
} bd_used __attribute__((aligned(4096)));

/* One request at a time: its header, data sector and status byte. */
static struct vblk_hdr bd_hdr;
static u8 bd_data[ABI_SECTOR_SIZE] __attribute__((aligned(4096)));
static volatile u8 bd_status;

static struct {
	const char *mode;
	u64 capacity;		/* sectors, from the config space */
	u16 avail_idx;		/* the driver's copy of bd_avail.idx */
	int result;		/* what check returns */
} bd;

static u32 reg_read(u32 off)
{
	return mmio_read32(ABI_VIRTIO_BLK_ADDR + off);
}

static void reg_write(u32 off, u32 v)
{
	mmio_write32(ABI_VIRTIO_BLK_ADDR + off, v);
}

static void reg_write64(u32 low, u32 high, u64 v)
{
	reg_write(low, (u32)v);
	reg_write(high, (u32)(v >> 32));
}

static void add_status(u32 bits)
{
	reg_write(VIRTIO_MMIO_STATUS, reg_read(VIRTIO_MMIO_STATUS) | bits);
}

/* bd_start resets the device and negotiates VERSION_1 only, up to
 * FEATURES_OK; 0, or -1 when the device refused. */
static int bd_start(void)
{
	reg_write(VIRTIO_MMIO_STATUS, 0);
	if (reg_read(VIRTIO_MMIO_STATUS) != 0) {
		kprintf("bad-disk: %s: Status is not 0 after a reset\n", bd.mode);
		return -1;
	}
	add_status(VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(VIRTIO_STATUS_DRIVER);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	add_status(VIRTIO_STATUS_FEATURES_OK);
	if (!(reg_read(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		kprintf("bad-disk: %s: the device refused VERSION_1 alone\n", bd.mode);
		return -1;
	}
	return 0;
}

/* bd_queue gives queue 0 the areas (desc may be a bad address), makes
 * it ready and sets DRIVER_OK. The rings start empty, as after a reset. */
static void bd_queue(u64 desc)
{
	memset(&bd_avail, 0, sizeof(bd_avail));
	memset(&bd_used, 0, sizeof(bd_used));
	bd.avail_idx = 0;
	reg_write(VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_write(VIRTIO_MMIO_QUEUE_NUM, BD_QSIZE);
	reg_write64(VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, desc);
	reg_write64(VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (u64)&bd_avail);
	reg_write64(VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (u64)&bd_used);
	reg_write(VIRTIO_MMIO_QUEUE_READY, 1);
	add_status(VIRTIO_STATUS_DRIVER_OK);
}

/* bd_publish makes the chain at descriptor 0 available and notifies. */
static void bd_publish(void)
{
	bd_status = VBLK_S_PENDING;
	bd_avail.ring[bd.avail_idx % BD_QSIZE] = 0;
	bd.avail_idx++;
	/* Release: the descriptors and the ring slot before the index. */
	__atomic_store_n(&bd_avail.idx, bd.avail_idx, __ATOMIC_RELEASE);
	reg_write(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

/* bd_request publishes a well-framed chain: header, one data buffer
 * (device-writable for IN), status byte. */
static void bd_request(u32 type, u64 sector, u64 data, u32 len)
{
	bd_hdr.type = type;
	bd_hdr.reserved = 0;
	bd_hdr.sector = sector;
	bd_desc[0] = (struct virtq_desc){.addr = (u64)&bd_hdr, .len = sizeof(bd_hdr),
					 .flags = VIRTQ_DESC_F_NEXT, .next = 1};
	bd_desc[1] = (struct virtq_desc){.addr = data, .len = len,
					 .flags = VIRTQ_DESC_F_NEXT | (type == VBLK_T_IN ? VIRTQ_DESC_F_WRITE : 0),
					 .next = 2};
	bd_desc[2] = (struct virtq_desc){.addr = (u64)&bd_status, .len = 1,
					 .flags = VIRTQ_DESC_F_WRITE};
	bd_publish();
}

/* bd_await polls for the request's status byte or DEVICE_NEEDS_RESET,
 * for at most BD_TIMEOUT; it returns the status byte, BD_RESET or
 * BD_TIMEDOUT. Polling, not halting, so that a device that never ends
 * its round shows as a timeout here rather than a deadlock. */
static int bd_await(void)
{
	u64 start = hc_time();

	for (u64 spins = 0;; spins++) {
		u8 s = __atomic_load_n(&bd_status, __ATOMIC_ACQUIRE);
		if (s != VBLK_S_PENDING)
			return s;
		if (spins % BD_SPINS != 0) {
			cpu_relax();
			continue;
		}
		if (reg_read(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
			return BD_RESET;
		if (hc_time() - start > BD_TIMEOUT)
			return BD_TIMEDOUT;
	}
}

static const char *bd_seen(int r)
{
	switch (r) {
	case VBLK_S_OK:
		return "status 0 (OK)";
	case VBLK_S_IOERR:
		return "status 1 (IOERR)";
	case VBLK_S_UNSUPP:
		return "status 2 (UNSUPP)";
	case BD_RESET:
		return "device needs reset";
	case BD_TIMEDOUT:
		return "neither a status byte nor DEVICE_NEEDS_RESET within 5 s";
	}
	return "an unknown status byte";
}

/* bd_expect prints what the device did and returns 0 when it was want. */
static int bd_expect(int want)
{
	int got = bd_await();

	if (got == want) {
		kprintf("bad-disk: %s: %s\n", bd.mode, bd_seen(got));
		return 0;
	}
	kprintf("bad-disk: %s: got %s (%d), want %s\n", bd.mode, bd_seen(got), got, bd_seen(want));
	return 1;
}

/* bd_recover resets the device after DEVICE_NEEDS_RESET, sets it up
 * again and reads sector 0 against the test image: the device serves
 * again once reset. */
static int bd_recover(void)
{
	if (bd_start() != 0)
		return 1;
	bd_queue((u64)bd_desc);
	if (reg_read(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET) {
		kprintf("bad-disk: %s: DEVICE_NEEDS_RESET survived the reset\n", bd.mode);
		return 1;
	}
	memset(bd_data, 0, sizeof(bd_data));
	bd_request(VBLK_T_IN, 0, (u64)bd_data, sizeof(bd_data));
	int got = bd_await();
	if (got != VBLK_S_OK) {
		kprintf("bad-disk: %s: after the reset, reading sector 0 got %s\n", bd.mode, bd_seen(got));
		return 1;
	}
	if (diskgen_check(0, 1, bd_data, 0) >= 0) {
		kprintf("bad-disk: %s: after the reset, sector 0 is not the test image's\n", bd.mode);
		return 1;
	}
	kprintf("bad-disk: %s: after a reset, sector 0 reads back ok\n", bd.mode);
	return 0;
}

/* bd_needs_reset waits for DEVICE_NEEDS_RESET, then recovers. */
static int bd_needs_reset(void)
{
	if (bd_expect(BD_RESET) != 0)
		return 1;
	return bd_recover();
}

static int mode_queue_size(void)
{
	if (bd_start() != 0)
		return 1;
	reg_write(VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_write(VIRTIO_MMIO_QUEUE_NUM, 3);	/* the VMM should stop here */
	kprintf("bad-disk: queue-size: the device took QueueNum 3\n");
	return 1;
}

static int mode_early_notify(void)
{
	if (bd_start() != 0)
		return 1;
	/* The queue is programmed, but neither ready nor DRIVER_OK. */
	reg_write(VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_write(VIRTIO_MMIO_QUEUE_NUM, BD_QSIZE);
	reg_write64(VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u64)bd_desc);
	reg_write64(VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (u64)&bd_avail);
	reg_write64(VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (u64)&bd_used);
	reg_write(VIRTIO_MMIO_QUEUE_NOTIFY, 0);	/* the VMM should stop here */
	kprintf("bad-disk: early-notify: the device took a notify before QueueReady and DRIVER_OK\n");
	return 1;
}

static int mode_outside_ram(void)
{
	if (bd_start() != 0)
		return 1;
	bd_queue((u64)bd_desc);
	/* A read, so the device finds the bad buffer when it writes the data. */
	bd_request(VBLK_T_IN, 0, BD_FAR, ABI_SECTOR_SIZE);
	return bd_needs_reset();
}

static int mode_loop(void)
{
	if (bd_start() != 0)
		return 1;
	bd_queue((u64)bd_desc);
	bd_hdr = (struct vblk_hdr){.type = VBLK_T_IN};
	/* The header's NEXT is itself: the chain never reaches a status byte. */
	bd_desc[0] = (struct virtq_desc){.addr = (u64)&bd_hdr, .len = sizeof(bd_hdr),
					 .flags = VIRTQ_DESC_F_NEXT, .next = 0};
	bd_publish();
	return bd_needs_reset();
}

static int mode_ring_outside(void)
{
	if (bd_start() != 0)
		return 1;
	/* The available ring is in RAM, so the guest can publish head 0;
	 * the device must then read descriptor 0 from far outside RAM. */
	bd_queue(BD_FAR);
	bd_publish();
	return bd_needs_reset();
}

static int mode_bad_type(void)
{
	if (bd_start() != 0)
		return 1;
	bd_queue((u64)bd_desc);
	bd_request(BD_TYPE_BAD, 0, (u64)bd_data, sizeof(bd_data));
	return bd_expect(VBLK_S_UNSUPP);
}

static int mode_beyond(void)
{
	if (bd_start() != 0)
		return 1;
	bd_queue((u64)bd_desc);
	/* Sector capacity is the first one past the end. */
	bd_request(VBLK_T_IN, bd.capacity, (u64)bd_data, sizeof(bd_data));
	return bd_expect(VBLK_S_IOERR);
}

static const struct {
	const char *name;
	int (*run)(void);
} bd_modes[] = {
	{"queue-size", mode_queue_size},
	{"early-notify", mode_early_notify},
	{"outside-ram", mode_outside_ram},
	{"loop", mode_loop},
	{"ring-outside", mode_ring_outside},
	{"bad-type", mode_bad_type},
	{"beyond", mode_beyond},
};

#define BD_NMODES (sizeof(bd_modes) / sizeof(bd_modes[0]))

static int (*bd_run)(void);

/* bad_disk_setup picks the mode and checks that there is a disk, the
 * way the built-in driver probes (vblk.c's present). */
static int bad_disk_setup(struct wctx *w)
{
	const struct bootinfo *bi = (const struct bootinfo *)ABI_BOOTINFO_ADDR;

	args_at_most(w, 1, bad_disk_usage);
	for (u32 i = 0; w->argc == 2 && i < BD_NMODES; i++)
		if (strcmp(w->argv[1], bd_modes[i].name) == 0) {
			bd.mode = bd_modes[i].name;
			bd_run = bd_modes[i].run;
		}
	if (!bd_run) {
		kprintf("bad-disk: usage: bad-disk %s\n", bad_disk_usage);
		hc_exit(2);
	}
	if (bi->mem_size > ABI_VIRTIO_BLK_ADDR ||
	    reg_read(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    reg_read(VIRTIO_MMIO_VERSION) != VIRTIO_MMIO_MODERN ||
	    reg_read(VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_BLOCK) {
		kprintf("bad-disk: no disk: run with --disk FILE (make one with vmm disk make FILE 1M)\n");
		hc_exit(2);
	}
	bd.capacity = reg_read(VIRTIO_MMIO_CONFIG) | (u64)reg_read(VIRTIO_MMIO_CONFIG + 4) << 32;
	return 0;
}

static void bad_disk_run(struct wctx *w, int cpu)
{
	(void)w;
	if (cpu == 0)
		bd.result = bd_run();
}

static int bad_disk_check(struct wctx *w)
{
	(void)w;
	return bd.result;
}

const struct workload wl_bad_disk = {
	.name = "bad-disk",
	.usage = bad_disk_usage,
	.setup = bad_disk_setup,
	.run = bad_disk_run,
	.check = bad_disk_check,
};
