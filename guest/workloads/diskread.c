/*
 * diskread [SECTORS] [poll|halt]: CPU 0 reads the first SECTORS sectors
 * (default 2048, 1 MiB; at most the capacity) in requests of DR_BLOCK
 * sectors, each into a page-aligned 4 KiB buffer of its own, keeping as
 * many in flight as the ring holds. The other CPUs consume the blocks as
 * they complete, block b on CPU 1 + b % (ncpus - 1): each polls its
 * block's status byte, then checks the data against the image. CPU 0
 * waits for ring space, and at the end for every completion, the way
 * the mode says (halt by default: it notified for every request, so the
 * device owes it the wakes). With one CPU, CPU 0 submits every block and
 * then waits for and checks each itself. The summary names the disk by
 * its GET_ID.
 */
#include "alloc.h"
#include "disk.h"

#define DR_BLOCK   8	/* sectors per request: one 4 KiB page */
#define DR_ABORTED 0xfe	/* the status CPU 0 gives a block it could not submit */

/* What one CPU checked, on a line of its own. */
struct dr_cpu {
	u64 blocks;		/* blocks checked */
	u64 bad;		/* of which wrong: bad status or data */
	s64 first_bad;		/* the lowest bad sector, -1 when none */
	int first_status;	/* the status of that sector's request */
} __attribute__((aligned(CACHE_LINE)));

static const char diskread_usage[] = "[SECTORS (default 2048)] [poll|halt (default halt)] (needs --disk FILE)";

static struct {
	u64 asked, sectors, blocks;
	enum vblk_wait how;
	u8 *bufs;
	struct vblk_req *reqs;
	struct dr_cpu *cpus;
	int io_error;		/* CPU 0's first failed submit or wait */
	char id[VBLK_ID_BYTES + 1];	/* GET_ID's answer, for the summary */
} dr;

static int diskread_setup(struct wctx *w)
{
	disk_args(w, diskread_usage, 2048, 1, 1UL << 24, &dr.asked, &dr.how);
	disk_open(w);
	int st = vblk_get_id(dr.id, dr.how);
	if (st != VBLK_S_OK) {
		kprintf("diskread: GET_ID: %s\n", disk_status(st));
		return 1;
	}
	dr.sectors = dr.asked < vblk_capacity() ? dr.asked : vblk_capacity();
	dr.blocks = (dr.sectors + DR_BLOCK - 1) / DR_BLOCK;
	dr.bufs = kalloc_or_die(dr.blocks * DISK_PAGE, DISK_PAGE);
	dr.reqs = kalloc_or_die(dr.blocks * sizeof(*dr.reqs), CACHE_LINE);
	dr.cpus = kalloc_or_die((u64)w->ncpus * sizeof(*dr.cpus), CACHE_LINE);
	/* Every request starts pending, so that a consumer waits for the
	 * device even when it looks before CPU 0 submitted the block. */
	for (u64 b = 0; b < dr.blocks; b++) {
		u64 first = b * DR_BLOCK;
		u64 n = dr.sectors - first < DR_BLOCK ? dr.sectors - first : DR_BLOCK;
		vblk_req_init(&dr.reqs[b], VBLK_T_IN, first, dr.bufs + b * DISK_PAGE,
			      (u32)(n * ABI_SECTOR_SIZE));
	}
	for (int c = 0; c < w->ncpus; c++)
		dr.cpus[c].first_bad = -1;
	return 0;
}

/* check_block records block b, whose request ended with st. */
static void check_block(struct dr_cpu *me, u64 b, int st)
{
	struct vblk_req *r = &dr.reqs[b];
	s64 bad = r->hdr.sector;

	if (st == VBLK_S_OK)
		bad = diskgen_check(r->hdr.sector, r->len / ABI_SECTOR_SIZE, r->buf, 0);
	me->blocks++;
	if (bad < 0)
		return;
	me->bad++;
	if (me->first_bad < 0 || bad < me->first_bad) {
		me->first_bad = bad;
		me->first_status = st;
	}
}

/* submit_all submits every block and returns how many it did. */
static u64 submit_all(void)
{
	for (u64 b = 0; b < dr.blocks; b++) {
		int err = vblk_submit(&dr.reqs[b], dr.how);
		if (err == 0)
			continue;
		dr.io_error = err;
		/* Never published: release the consumers of the rest. */
		for (u64 k = b; k < dr.blocks; k++)
			__atomic_store_n(&dr.reqs[k].status, DR_ABORTED, __ATOMIC_RELEASE);
		return b;
	}
	return dr.blocks;
}

static void diskread_run(struct wctx *w, int cpu)
{
	struct dr_cpu *me = &dr.cpus[cpu];

	if (cpu == 0) {
		u64 submitted = submit_all();
		for (u64 b = 0; b < submitted; b++) {
			int st = vblk_wait(&dr.reqs[b], dr.how);
			if (w->ncpus == 1)
				check_block(me, b, st);
			if (st < 0) {
				dr.io_error = st;
				break;
			}
		}
		if (w->ncpus == 1)
			for (u64 b = submitted; b < dr.blocks; b++)
				check_block(me, b, DR_ABORTED);
		return;
	}
	for (u64 b = (u64)cpu - 1; b < dr.blocks; b += (u64)w->ncpus - 1) {
		int st = vblk_poll_status(&dr.reqs[b]);
		check_block(me, b, st);
		if (st < 0)
			break;	/* the device stopped: the rest would fail alike */
	}
}

static int diskread_check(struct wctx *w)
{
	u64 checked = 0, bad = 0;
	s64 first_bad = -1;
	int first_status = 0;

	for (int c = 0; c < w->ncpus; c++) {
		struct dr_cpu *p = &dr.cpus[c];
		checked += p->blocks;
		bad += p->bad;
		if (p->first_bad >= 0 && (first_bad < 0 || p->first_bad < first_bad)) {
			first_bad = p->first_bad;
			first_status = p->first_status;
		}
	}
	if (dr.sectors < dr.asked)
		kprintf("diskread: %lu sectors asked, the disk has %lu\n", dr.asked, dr.sectors);
	if (dr.io_error)
		kprintf("diskread: CPU 0: %s\n", disk_status(dr.io_error));
	if (first_bad >= 0)
		kprintf("diskread: first bad sector %ld (request: %s)\n", first_bad,
			first_status == DR_ABORTED ? "not submitted" : disk_status(first_status));
	if (bad != 0 || checked != dr.blocks || dr.io_error) {
		kprintf("diskread: %lu of %lu requests checked, %lu bad\n", checked, dr.blocks, bad);
		return 1;
	}
	kprintf("diskread: %lu sectors ok (disk %s; %lu requests of up to %d sectors, %s, %d CPUs)\n",
		dr.sectors, dr.id, dr.blocks, DR_BLOCK, disk_mode(dr.how), w->ncpus);
	return 0;
}

const struct workload wl_diskread = {
	.name = "diskread",
	.usage = diskread_usage,
	.setup = diskread_setup,
	.run = diskread_run,
	.check = diskread_check,
};
