/*
 * diskmix [ROUNDS]: the device and a vCPU write one page at once. Each
 * round CPU 0 reads DM_SECTORS sectors (2 KiB) into the first half of a
 * page-aligned page and waits by halting, while CPU 1 keeps incrementing
 * the counters in the second half until the request's status byte turns
 * complete; CPUs past 1 poll the status byte and check the first half as
 * soon as it does. Then CPU 0 and CPU 1 both check both halves: the data
 * is the image's, and every counter holds exactly the number of sweeps
 * CPU 1 made. Barriers separate the rounds' set-up, I/O and checks.
 * Needs at least 2 CPUs.
 */
#include "alloc.h"
#include "disk.h"

#define DM_SECTORS  4
#define DM_DATA     (DM_SECTORS * ABI_SECTOR_SIZE)	/* the first half of the page */
#define DM_COUNTERS ((DISK_PAGE - DM_DATA) / 8)		/* u64s in the second half */
#define DM_POISON   0xa5	/* the data half before each read */
#define DM_ABORTED  0xfe	/* the status CPU 0 gives a read it could not submit */

/* What one CPU found, on a line of its own. */
struct dm_cpu {
	u64 checks;		/* halves checked */
	u64 bad_data, bad_counters;
	s64 first_bad_round;	/* -1 when none */
	int first_status;	/* the request status of the first bad data */
} __attribute__((aligned(CACHE_LINE)));

static const char diskmix_usage[] = "[ROUNDS (default 200)] (needs --disk FILE and 2 CPUs)";

static struct {
	u64 rounds, span;	/* span: sectors used, a multiple of DM_SECTORS */
	u8 *page;
	volatile u64 *counters;	/* the page's second half */
	struct vblk_req *req;
	struct dm_cpu *cpus;
	u64 sweeps;		/* CPU 1's sweeps this round, published by the barrier */
	u64 total_sweeps;
	int io_error;		/* CPU 0's first failed submit or wait */
	struct barrier bar;
} dm;

static int diskmix_setup(struct wctx *w)
{
	args_at_most(w, 1, diskmix_usage);
	dm.rounds = arg_range(w, 1, 200, 1, 1UL << 32, diskmix_usage);
	if (w->ncpus < 2) {
		kprintf("diskmix: needs at least 2 CPUs (--cpus 2)\n");
		hc_exit(2);
	}
	disk_open(w);
	dm.span = vblk_capacity() / DM_SECTORS * DM_SECTORS;
	if (dm.span == 0) {
		kprintf("diskmix: the disk has %lu sectors, fewer than %d\n", vblk_capacity(),
			DM_SECTORS);
		hc_exit(2);
	}
	dm.page = kalloc_or_die(DISK_PAGE, DISK_PAGE);
	dm.counters = (volatile u64 *)(dm.page + DM_DATA);
	dm.req = kalloc_or_die(sizeof(*dm.req), CACHE_LINE);
	dm.cpus = kalloc_or_die((u64)w->ncpus * sizeof(*dm.cpus), CACHE_LINE);
	for (int c = 0; c < w->ncpus; c++)
		dm.cpus[c].first_bad_round = -1;
	barrier_init(&dm.bar, (u32)w->ncpus);
	return 0;
}

static u64 round_sector(u64 r)
{
	return r * DM_SECTORS % dm.span;
}

static void record_bad(struct dm_cpu *me, u64 r, int st)
{
	if (me->first_bad_round < 0) {
		me->first_bad_round = (s64)r;
		me->first_status = st;
	}
}

/* check_data checks the first half, read with status st, in round r. */
static void check_data(struct dm_cpu *me, u64 r, int st)
{
	me->checks++;
	if (st == VBLK_S_OK && diskgen_check(round_sector(r), DM_SECTORS, dm.page, 0) < 0)
		return;
	me->bad_data++;
	record_bad(me, r, st);
}

static void check_counters(struct dm_cpu *me, u64 r)
{
	me->checks++;
	for (u64 k = 0; k < DM_COUNTERS; k++)
		if (dm.counters[k] != dm.sweeps) {
			me->bad_counters++;
			record_bad(me, r, VBLK_S_OK);
			return;
		}
}

/* cpu0_read submits the round's read, set up before the barrier, and
 * waits for it by halting (CPU 0 notified for it, so the device owes it
 * a wake). */
static void cpu0_read(void)
{
	int err = vblk_submit(dm.req, VBLK_HALT);
	if (err) {
		/* Never published: release CPU 1 and the pollers. */
		if (!dm.io_error)
			dm.io_error = err;
		__atomic_store_n(&dm.req->status, DM_ABORTED, __ATOMIC_RELEASE);
		return;
	}
	int st = vblk_wait(dm.req, VBLK_HALT);
	if (st < 0 && !dm.io_error)
		dm.io_error = st;
}

/*
 * cpu1_sweep increments every counter, sweep after sweep, until the
 * request's status is written: at least one sweep, so the page is
 * written while the request is in flight. A device that stopped leaves
 * the status pending forever, so every few sweeps it asks.
 */
static void cpu1_sweep(void)
{
	u64 sweeps = 0;

	do {
		for (u64 k = 0; k < DM_COUNTERS; k++)
			dm.counters[k]++;
		sweeps++;
		if (sweeps % 4096 == 0 && vblk_check_device() != 0)
			break;
	} while (__atomic_load_n(&dm.req->status, __ATOMIC_ACQUIRE) == VBLK_S_PENDING);
	dm.sweeps = sweeps;
	dm.total_sweeps += sweeps;
}

static void diskmix_run(struct wctx *w, int cpu)
{
	struct dm_cpu *me = &dm.cpus[cpu];

	(void)w;
	for (u64 r = 0; r < dm.rounds; r++) {
		/* Set-up: CPU 0 poisons the data half (and marks the request
		 * pending, so that nobody takes the last round's status for
		 * this one's), CPU 1 clears its counters. */
		if (cpu == 0) {
			memset(dm.page, DM_POISON, DM_DATA);
			vblk_req_init(dm.req, VBLK_T_IN, round_sector(r), dm.page, DM_DATA);
		} else if (cpu == 1) {
			for (u64 k = 0; k < DM_COUNTERS; k++)
				dm.counters[k] = 0;
		}
		barrier_wait(&dm.bar);

		/* I/O: the read lands in the page while CPU 1 writes it. */
		if (cpu == 0)
			cpu0_read();
		else if (cpu == 1)
			cpu1_sweep();
		else
			check_data(me, r, vblk_poll_status(dm.req));
		barrier_wait(&dm.bar);

		/* Checks: CPU 0 has reaped the request; both halves are still. */
		if (cpu <= 1) {
			check_data(me, r, dm.req->status);
			check_counters(me, r);
		}
		barrier_wait(&dm.bar);
	}
}

static int diskmix_check(struct wctx *w)
{
	u64 checks = 0, bad_data = 0, bad_counters = 0;
	s64 first_round = -1;
	int first_status = 0;

	for (int c = 0; c < w->ncpus; c++) {
		struct dm_cpu *p = &dm.cpus[c];
		checks += p->checks;
		bad_data += p->bad_data;
		bad_counters += p->bad_counters;
		if (p->first_bad_round >= 0 && (first_round < 0 || p->first_bad_round < first_round)) {
			first_round = p->first_bad_round;
			first_status = p->first_status;
		}
	}
	if (dm.io_error)
		kprintf("diskmix: CPU 0: %s\n", disk_status(dm.io_error));
	if (first_round >= 0)
		kprintf("diskmix: first bad round %ld, sectors %lu..%lu (request: %s)\n",
			first_round, round_sector((u64)first_round),
			round_sector((u64)first_round) + DM_SECTORS - 1,
			first_status == DM_ABORTED ? "not submitted" : disk_status(first_status));
	if (bad_data != 0 || bad_counters != 0 || dm.io_error) {
		kprintf("diskmix: %lu checks, %lu bad data, %lu bad counters\n", checks, bad_data,
			bad_counters);
		return 1;
	}
	kprintf("diskmix: %lu rounds ok (%lu checks; CPU 1 swept its counters %lu times)\n",
		dm.rounds, checks, dm.total_sweeps);
	return 0;
}

const struct workload wl_diskmix = {
	.name = "diskmix",
	.usage = diskmix_usage,
	.setup = diskmix_setup,
	.run = diskmix_run,
	.check = diskmix_check,
};
