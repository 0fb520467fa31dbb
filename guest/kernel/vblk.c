/*
 * virtio-blk set-up, in the order of virtio 1.x section 3.1.1: reset,
 * ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK.
 * Submission and completion are in vblk_queue.c.
 */
#include "alloc.h"
#include "vblk_dev.h"

/* virtio-blk feature bits (5.2.3) the driver accepts when offered. */
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

#define BIT(n) (1UL << (n))
#define VBLK_WANTED (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_BLK_F_SEG_MAX) | \
		     BIT(VIRTIO_BLK_F_RO) | BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH))

/* Config fields (5.2.4), offsets from VIRTIO_MMIO_CONFIG. */
#define VBLK_CFG_CAPACITY 0
#define VBLK_CFG_SEG_MAX  12
#define VBLK_CFG_BLK_SIZE 20

#define PAGE 4096

/* The device resets at once in this VMM; the bound only keeps a broken
 * one from hanging the boot. */
#define RESET_READS 1000

struct vblk_dev vblk_dev;

const char *vblk_error(int err)
{
	switch (err) {
	case VBLK_ENODEV:
		return "no virtio-blk device";
	case VBLK_EFEATURES:
		return "feature negotiation failed";
	case VBLK_EQUEUE:
		return "queue 0 cannot be set up";
	case VBLK_ERESET:
		return "the device needs a reset (DEVICE_NEEDS_RESET)";
	case VBLK_EBROKEN:
		return "the used ring named an unknown chain";
	case VBLK_EINVAL:
		return "invalid request";
	}
	return "unknown error";
}

/*
 * present says whether the window holds a virtio-blk device. With a disk
 * RAM ends at or below the window (guest/ABI.md), so RAM reaching over
 * it means there is none, and reading it would only read RAM.
 */
static int present(void)
{
	const struct bootinfo *bi = (const struct bootinfo *)ABI_BOOTINFO_ADDR;

	if (bi->mem_size > ABI_VIRTIO_BLK_ADDR)
		return 0;
	return vblk_reg_read(VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC &&
	       vblk_reg_read(VIRTIO_MMIO_VERSION) == VIRTIO_MMIO_MODERN &&
	       vblk_reg_read(VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_BLOCK;
}

static u64 read_features(void)
{
	vblk_reg_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	u64 lo = vblk_reg_read(VIRTIO_MMIO_DEVICE_FEATURES);
	vblk_reg_write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	u64 hi = vblk_reg_read(VIRTIO_MMIO_DEVICE_FEATURES);
	return hi << 32 | lo;
}

static void write_features(u64 f)
{
	vblk_reg_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vblk_reg_write(VIRTIO_MMIO_DRIVER_FEATURES, (u32)f);
	vblk_reg_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vblk_reg_write(VIRTIO_MMIO_DRIVER_FEATURES, (u32)(f >> 32));
}

/* negotiate accepts what the driver knows of the offer and checks that
 * the device keeps FEATURES_OK set (it clears it to refuse). */
static int negotiate(void)
{
	u64 offered = read_features();

	if (!(offered & BIT(VIRTIO_F_VERSION_1)))
		return VBLK_EFEATURES;
	vblk_dev.features = offered & VBLK_WANTED;
	write_features(vblk_dev.features);
	u32 status = vblk_reg_read(VIRTIO_MMIO_STATUS);
	vblk_reg_write(VIRTIO_MMIO_STATUS, status | VIRTIO_STATUS_FEATURES_OK);
	if (!(vblk_reg_read(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return VBLK_EFEATURES;
	return 0;
}

static u32 config_read(u32 off)
{
	return vblk_reg_read(VIRTIO_MMIO_CONFIG + off);
}

/* read_config reads the 64-bit capacity as two 32-bit halves, again if
 * ConfigGeneration says the device changed the config in between. */
static void read_config(void)
{
	u32 gen;
	u64 cap;

	do {
		gen = vblk_reg_read(VIRTIO_MMIO_CONFIG_GENERATION);
		cap = config_read(VBLK_CFG_CAPACITY);
		cap |= (u64)config_read(VBLK_CFG_CAPACITY + 4) << 32;
	} while (vblk_reg_read(VIRTIO_MMIO_CONFIG_GENERATION) != gen);
	vblk_dev.capacity = cap;
	vblk_dev.blk_size = ABI_SECTOR_SIZE;
	if (vblk_dev.features & BIT(VIRTIO_BLK_F_BLK_SIZE))
		vblk_dev.blk_size = config_read(VBLK_CFG_BLK_SIZE);
	if (vblk_dev.features & BIT(VIRTIO_BLK_F_SEG_MAX))
		vblk_dev.seg_max = config_read(VBLK_CFG_SEG_MAX);
}

static void write_addr(u32 low, u32 high, const void *p)
{
	vblk_reg_write(low, (u32)(u64)p);
	vblk_reg_write(high, (u32)((u64)p >> 32));
}

/*
 * setup_queue sizes queue 0: the largest power of two up to QueueNumMax
 * and ABI_VIRTIO_QUEUE_MAX (what owner[] holds), and at least 4, for a
 * request takes 3 descriptors. It gives the device the three areas, each
 * on pages of its own, which is more alignment than desc 16, avail 2
 * and used 4 need.
 */
static int setup_queue(void)
{
	vblk_reg_write(VIRTIO_MMIO_QUEUE_SEL, 0);
	if (vblk_reg_read(VIRTIO_MMIO_QUEUE_READY) != 0)
		return VBLK_EQUEUE;
	u32 max = vblk_reg_read(VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max > ABI_VIRTIO_QUEUE_MAX)
		max = ABI_VIRTIO_QUEUE_MAX;
	if (max < 4)
		return VBLK_EQUEUE;
	u32 size = 4;
	while (size * 2 <= max)
		size *= 2;

	struct vblk_dev *d = &vblk_dev;
	d->qsize = size;
	d->desc = kalloc_or_die(sizeof(struct virtq_desc) * size, PAGE);
	d->avail = kalloc_or_die(sizeof(struct virtq_avail) + sizeof(u16) * (size + 1), PAGE);
	d->used = kalloc_or_die(sizeof(struct virtq_used) +
				sizeof(struct virtq_used_elem) * size + sizeof(u16), PAGE);
	for (u32 i = 0; i + 1 < size; i++)
		d->desc[i].next = (u16)(i + 1);
	d->free_head = 0;
	d->nfree = size;
	d->avail_idx = 0;
	d->last_used = 0;

	vblk_reg_write(VIRTIO_MMIO_QUEUE_NUM, size);
	write_addr(VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, d->desc);
	write_addr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, d->avail);
	write_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, d->used);
	vblk_reg_write(VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

/* reset writes 0 to Status and waits until it reads back 0, as the
 * spec asks before the device is set up again. */
static int reset(void)
{
	vblk_reg_write(VIRTIO_MMIO_STATUS, 0);
	for (int i = 0; i < RESET_READS; i++)
		if (vblk_reg_read(VIRTIO_MMIO_STATUS) == 0)
			return 0;
	return VBLK_ENODEV;
}

static void add_status(u32 bits)
{
	vblk_reg_write(VIRTIO_MMIO_STATUS, vblk_reg_read(VIRTIO_MMIO_STATUS) | bits);
}

int vblk_init(void)
{
	int err;

	if (vblk_dev.ready)
		return 0;
	if (!present())
		return VBLK_ENODEV;
	if ((err = reset()) != 0)
		return err;
	add_status(VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(VIRTIO_STATUS_DRIVER);
	err = negotiate();
	if (err == 0) {
		read_config();
		err = setup_queue();
	}
	if (err != 0) {
		/* Tell the device the driver gave up (3.1.1 step 8's FAILED). */
		add_status(VIRTIO_STATUS_FAILED);
		return err;
	}
	add_status(VIRTIO_STATUS_DRIVER_OK);
	if (vblk_reg_read(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
		return VBLK_ERESET;
	vblk_dev.ready = 1;
	return 0;
}

u64 vblk_capacity(void) { return vblk_dev.capacity; }
int vblk_readonly(void) { return (vblk_dev.features & BIT(VIRTIO_BLK_F_RO)) != 0; }
int vblk_can_flush(void) { return (vblk_dev.features & BIT(VIRTIO_BLK_F_FLUSH)) != 0; }
u32 vblk_queue_size(void) { return vblk_dev.qsize; }
u32 vblk_blk_size(void) { return vblk_dev.blk_size; }
u32 vblk_seg_max(void) { return vblk_dev.seg_max; }

/*
 * vblk_check_device reads Status for DEVICE_NEEDS_RESET. Once the queue
 * failed it stays failed (the driver never resets the device under
 * requests in flight), so later calls need no exit.
 */
int vblk_check_device(void)
{
	s32 f = __atomic_load_n(&vblk_dev.failed, __ATOMIC_ACQUIRE);
	if (f)
		return f;
	if (!(vblk_reg_read(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET))
		return 0;
	vblk_fail(VBLK_ERESET);
	return __atomic_load_n(&vblk_dev.failed, __ATOMIC_ACQUIRE);
}
