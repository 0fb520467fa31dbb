/*
 * diskwrite [SECTORS] [poll|halt]: every CPU takes its own share of the
 * first SECTORS sectors (default 2048; at most the capacity) and, a
 * batch of DW_BATCH requests of DW_BLOCK sectors at a time, writes a
 * pattern unlike the image (the image's words XOR a mix of a per-run
 * constant and the CPU number), reads it back into other buffers and
 * compares, then writes the image's own content back and reads and
 * compares that too, so the disk stays a valid `vmm disk make` image.
 * Each CPU waits for its own requests the way the mode says (halt by
 * default). Once every CPU is done, CPU 0 sends one FLUSH. A read-only
 * disk exits 2.
 */
#include "alloc.h"
#include "disk.h"

#define DW_BLOCK 8	/* sectors per request: 4 KiB */
#define DW_BATCH 8	/* requests in flight per CPU */
#define DW_NO_FLUSH 0x100	/* not a status byte: the device offers no FLUSH */

/* One CPU's buffers and what it found, on lines of their own. */
struct dw_cpu {
	u8 *wbuf, *rbuf;	/* DW_BATCH pages each */
	struct vblk_req req[DW_BATCH];
	u64 sectors;		/* sectors fully checked */
	u64 bad;		/* requests or sectors that failed */
	s64 first_bad;		/* the lowest bad sector, -1 when none */
	int first_status;	/* the status of that sector's request */
	const char *first_pass;	/* which step found it */
} __attribute__((aligned(CACHE_LINE)));

static const char diskwrite_usage[] = "[SECTORS (default 2048)] [poll|halt (default halt)] (needs a writable --disk FILE)";

static struct {
	u64 asked, sectors;
	enum vblk_wait how;
	u64 run_mix;		/* from the clock: each run writes another pattern */
	struct dw_cpu *cpus;
	struct barrier done;
	int flush_status;	/* FLUSH's status; DW_NO_FLUSH when not offered */
} dw;

static int diskwrite_setup(struct wctx *w)
{
	disk_args(w, diskwrite_usage, 2048, 1, 1UL << 24, &dw.asked, &dw.how);
	disk_open(w);
	if (vblk_readonly()) {
		kprintf("diskwrite: the disk is read-only (--disk-readonly): diskwrite needs a writable disk\n");
		hc_exit(2);
	}
	dw.sectors = dw.asked < vblk_capacity() ? dw.asked : vblk_capacity();
	dw.run_mix = hc_time() * ABI_DISK_SEED_MUL;
	dw.cpus = kalloc_or_die((u64)w->ncpus * sizeof(*dw.cpus), CACHE_LINE);
	for (int c = 0; c < w->ncpus; c++) {
		dw.cpus[c].wbuf = kalloc_or_die(DW_BATCH * DISK_PAGE, DISK_PAGE);
		dw.cpus[c].rbuf = kalloc_or_die(DW_BATCH * DISK_PAGE, DISK_PAGE);
		dw.cpus[c].first_bad = -1;
	}
	barrier_init(&dw.done, (u32)w->ncpus);
	return 0;
}

/* cpu_mix is CPU cpu's pattern: never 0, so it differs from the image
 * in every word, and different on every CPU and run. */
static u64 cpu_mix(int cpu)
{
	u64 m = (dw.run_mix + (u64)cpu + 1) * ABI_DISK_OUT_MUL;
	m ^= m >> 29;
	return m ? m : 1;
}

static void record_bad(struct dw_cpu *me, s64 sector, int st, const char *pass)
{
	me->bad++;
	if (me->first_bad < 0 || sector < me->first_bad) {
		me->first_bad = sector;
		me->first_status = st;
		me->first_pass = pass;
	}
}

/*
 * transfer moves sectors [first, first + count) between the disk and buf
 * (type IN or OUT), in requests of DW_BLOCK sectors all in flight at
 * once, and waits for them. It returns 0 when every one succeeded.
 */
static int transfer(struct dw_cpu *me, u32 type, u64 first, u64 count, u8 *buf,
		    const char *pass)
{
	u64 n = (count + DW_BLOCK - 1) / DW_BLOCK, sent = 0;
	int failed = 0;

	for (; sent < n; sent++) {
		u64 s = first + sent * DW_BLOCK;
		u64 len = first + count - s < DW_BLOCK ? first + count - s : DW_BLOCK;
		vblk_req_init(&me->req[sent], type, s, buf + sent * DISK_PAGE,
			      (u32)(len * ABI_SECTOR_SIZE));
		int err = vblk_submit(&me->req[sent], dw.how);
		if (err) {
			record_bad(me, (s64)s, err, pass);
			failed = 1;
			break;
		}
	}
	for (u64 k = 0; k < sent; k++) {
		int st = vblk_wait(&me->req[k], dw.how);
		if (st != VBLK_S_OK) {
			record_bad(me, (s64)me->req[k].hdr.sector, st, pass);
			failed = 1;
			if (st < 0)
				break;	/* the device stopped */
		}
	}
	return failed;
}

/* verify compares count sectors read into buf with the pattern mix. */
static int verify(struct dw_cpu *me, u64 first, u64 count, const u8 *buf, u64 mix,
		  const char *pass)
{
	s64 bad = diskgen_check(first, count, buf, mix);

	if (bad < 0)
		return 0;
	record_bad(me, bad, VBLK_S_OK, pass);
	return 1;
}

/*
 * batch runs the four steps on sectors [first, first + count). The read
 * buffers are cleared before each read, so nothing left from an earlier
 * step can pass for what the disk returned.
 */
static int batch(struct dw_cpu *me, int cpu, u64 first, u64 count)
{
	u64 mix = cpu_mix(cpu);

	diskgen_fill(first, count, me->wbuf, mix);
	if (transfer(me, VBLK_T_OUT, first, count, me->wbuf, "pattern write"))
		return 1;
	memset(me->rbuf, 0, DW_BATCH * DISK_PAGE);
	if (transfer(me, VBLK_T_IN, first, count, me->rbuf, "pattern read") ||
	    verify(me, first, count, me->rbuf, mix, "pattern read"))
		return 1;
	diskgen_fill(first, count, me->wbuf, 0);
	if (transfer(me, VBLK_T_OUT, first, count, me->wbuf, "restore write"))
		return 1;
	memset(me->rbuf, 0, DW_BATCH * DISK_PAGE);
	if (transfer(me, VBLK_T_IN, first, count, me->rbuf, "restore read") ||
	    verify(me, first, count, me->rbuf, 0, "restore read"))
		return 1;
	return 0;
}

static void diskwrite_run(struct wctx *w, int cpu)
{
	struct dw_cpu *me = &dw.cpus[cpu];
	u64 lo, hi, step = (u64)DW_BATCH * DW_BLOCK;

	split(dw.sectors, DW_BLOCK, w->ncpus, cpu, &lo, &hi);
	for (u64 s = lo; s < hi; s += step) {
		u64 count = hi - s < step ? hi - s : step;
		if (batch(me, cpu, s, count))
			break;	/* keep the first failure; the check reports it */
		me->sectors += count;
	}
	barrier_wait(&dw.done);
	if (cpu == 0)
		dw.flush_status = vblk_can_flush() ? vblk_flush(dw.how) : DW_NO_FLUSH;
}

static int diskwrite_check(struct wctx *w)
{
	u64 checked = 0, bad = 0;
	struct dw_cpu *first = NULL;

	for (int c = 0; c < w->ncpus; c++) {
		struct dw_cpu *p = &dw.cpus[c];
		checked += p->sectors;
		bad += p->bad;
		if (p->first_bad >= 0 && (!first || p->first_bad < first->first_bad))
			first = p;
	}
	if (dw.sectors < dw.asked)
		kprintf("diskwrite: %lu sectors asked, the disk has %lu\n", dw.asked, dw.sectors);
	if (first)
		kprintf("diskwrite: first bad sector %ld (%s, request: %s)\n", first->first_bad,
			first->first_pass, disk_status(first->first_status));
	/* A device without FLUSH is allowed (the spec makes it optional),
	 * so that is a note; a FLUSH that failed is a failure. */
	int flush_bad = dw.flush_status != VBLK_S_OK && dw.flush_status != DW_NO_FLUSH;
	if (dw.flush_status == DW_NO_FLUSH)
		kprintf("diskwrite: the device offers no FLUSH; none sent\n");
	else if (flush_bad)
		kprintf("diskwrite: flush: %s\n", disk_status(dw.flush_status));
	if (bad != 0 || checked != dw.sectors || flush_bad) {
		kprintf("diskwrite: %lu of %lu sectors checked, %lu failures\n", checked, dw.sectors, bad);
		return 1;
	}
	kprintf("diskwrite: %lu sectors written, read back and restored ok%s (%s, %d CPUs)\n",
		dw.sectors, dw.flush_status == VBLK_S_OK ? ", flushed" : "", disk_mode(dw.how),
		w->ncpus);
	return 0;
}

const struct workload wl_diskwrite = {
	.name = "diskwrite",
	.usage = diskwrite_usage,
	.setup = diskwrite_setup,
	.run = diskwrite_run,
	.check = diskwrite_check,
};
