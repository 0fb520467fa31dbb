/*
 * adv-rep: REP string instructions over several pages, forwards (cld)
 * and backwards (std), on pages the CPUs share. Every CPU owns a source
 * and a destination buffer of 3.5 pages; the buffers are packed end to
 * end, so neighbouring CPUs share the pages at their ends. Each round a
 * CPU:
 *  - fills its source with rep stosq (forwards) and copies it with rep
 *    movsb (forwards), checks with repe cmpsb;
 *  - copies it again with rep movsq backwards, checks with repe cmpsq;
 *  - fills its destination with rep stosb backwards, checks with repe
 *    scasb;
 * all of which must come out exact. Then CPU 0 moves a marker byte
 * around a 4-page scan area until the other CPUs have looked for it
 * enough times with repne scasb over the 4 pages; where (and whether)
 * they find it is racy.
 */
#include "adv.h"

static const char adv_rep_usage[] = "[copy rounds (default 40)] [scans per scanner (default 200)]";

#define REP_BUF (3 * ADV_PAGE + 2048)
#define SCAN_PAGES 4
#define SCAN_LEN (SCAN_PAGES * ADV_PAGE)
#define MARKER 0x5a

static u64 rounds, scans, moves;
static volatile u64 scanners_left, mover_started;
static u8 *srcs, *dsts, *scan;
static volatile u64 rep_arrived;	/* CPUs at the start line */
/* v[0] mismatches, v[1] scans that found the marker, v[2] sum of the
 * offsets found, v[3] offsets out of range. */
static struct adv_slot results[ADV_MAX_CPUS];

static void rep_stosq_fwd(void *dst, u64 v, u64 qwords)
{
	asm volatile("cld\n\trep stosq" : "+D"(dst), "+c"(qwords) : "a"(v) : "memory");
}

static void rep_movsb_fwd(const void *src, void *dst, u64 n)
{
	asm volatile("cld\n\trep movsb" : "+S"(src), "+D"(dst), "+c"(n) : : "memory");
}

/* rep movsq backwards: rsi and rdi start at the last qwords. */
static void rep_movsq_back(const void *src, void *dst, u64 qwords)
{
	const u8 *s = (const u8 *)src + 8 * (qwords - 1);
	u8 *d = (u8 *)dst + 8 * (qwords - 1);
	asm volatile("std\n\trep movsq\n\tcld" : "+S"(s), "+D"(d), "+c"(qwords) : : "memory", "cc");
}

static void rep_stosb_back(void *dst, u8 v, u64 n)
{
	u8 *d = (u8 *)dst + n - 1;
	asm volatile("std\n\trep stosb\n\tcld" : "+D"(d), "+c"(n) : "a"(v) : "memory", "cc");
}

/* repe cmpsb: the number of bytes left when a difference stopped it. */
static u64 repe_cmpsb(const void *a, const void *b, u64 n)
{
	u8 ne;
	asm volatile("cld\n\trepe cmpsb\n\tsetne %[ne]"
		     : [ne] "=q"(ne), "+S"(a), "+D"(b), "+c"(n) : : "memory", "cc");
	return ne ? n + 1 : 0;
}

static u64 repe_cmpsq(const void *a, const void *b, u64 qwords)
{
	u8 ne;
	asm volatile("cld\n\trepe cmpsq\n\tsetne %[ne]"
		     : [ne] "=q"(ne), "+S"(a), "+D"(b), "+c"(qwords) : : "memory", "cc");
	return ne ? qwords + 1 : 0;
}

static u64 repe_scasb(const void *p, u8 v, u64 n)
{
	u8 ne;
	asm volatile("cld\n\trepe scasb\n\tsetne %[ne]"
		     : [ne] "=q"(ne), "+D"(p), "+c"(n) : "a"(v) : "memory", "cc");
	return ne ? n + 1 : 0;
}

/* repne scasb: the offset of the first v in p[0..n), or n. */
static u64 repne_scasb(const u8 *p, u8 v, u64 n)
{
	const u8 *q = p;
	u8 found;
	asm volatile("cld\n\trepne scasb\n\tsete %[f]"
		     : [f] "=q"(found), "+D"(q), "+c"(n) : "a"(v) : "memory", "cc");
	return found ? (u64)(q - p) - 1 : SCAN_LEN;
}

static int adv_rep_setup(struct wctx *w)
{
	args_at_most(w, 2, adv_rep_usage);
	rounds = arg_range(w, 1, 40, 0, 1UL << 32, adv_rep_usage);
	scans = arg_range(w, 2, 200, 0, 1UL << 32, adv_rep_usage);
	if (adv_cpus(w))
		return 1;
	u64 pages = ((u64)w->ncpus * REP_BUF + ADV_PAGE - 1) / ADV_PAGE;
	/* The buffers start half a page in, so the first one shares a page too. */
	srcs = adv_pages(pages + 1) + 2048;
	dsts = adv_pages(pages + 1) + 2048;
	scan = adv_pages(SCAN_PAGES);
	scanners_left = (u64)w->ncpus - 1;
	return 0;
}

static void copies(int cpu)
{
	u8 *src = srcs + (u64)cpu * REP_BUF, *dst = dsts + (u64)cpu * REP_BUF;
	u64 bad = 0;

	for (u64 i = 0; i < rounds; i++) {
		u64 v = random_at(i * ADV_MAX_CPUS + (u64)cpu) | 1;
		rep_stosq_fwd(src, v, REP_BUF / 8);
		src[i % REP_BUF] = (u8)i;	/* not a uniform pattern */
		rep_movsb_fwd(src, dst, REP_BUF);
		bad += repe_cmpsb(src, dst, REP_BUF) != 0;
		src[(i * 977) % REP_BUF] ^= 0xff;
		rep_movsq_back(src, dst, REP_BUF / 8);
		bad += repe_cmpsq(src, dst, REP_BUF / 8) != 0;
		rep_stosb_back(dst, (u8)(v >> 8), REP_BUF);
		bad += repe_scasb(dst, (u8)(v >> 8), REP_BUF) != 0;
		bad += dst[0] != (u8)(v >> 8) || dst[REP_BUF - 1] != (u8)(v >> 8);
	}
	results[cpu].v[0] = bad;
}

/* CPU 0 moves the marker, the new one first, then clears the old, until
 * the scanners are done. */
static void mover(void)
{
	u64 marker = 0, s;

	for (s = 1; adv_writer_more(s, 1, &scanners_left); s++) {
		u64 next = random_at(s) % SCAN_LEN;
		__atomic_store_n(&scan[next], MARKER, __ATOMIC_RELAXED);
		if (next != marker)
			__atomic_store_n(&scan[marker], 0, __ATOMIC_RELAXED);
		marker = next;
		if (s == 1)
			adv_writer_started(&mover_started);
	}
	moves = s - 1;
}

static void scanner(int cpu)
{
	u64 found = 0, sum = 0, out = 0, changes = 0, last = SCAN_LEN;

	adv_wait_writer(&mover_started);
	for (u64 s = 1; s <= scans || changes < ADV_MIN_CHANGES; s++) {
		u64 at = repne_scasb(scan, MARKER, SCAN_LEN);
		if (at < SCAN_LEN) {
			found++;
			sum += at;
		} else if (at > SCAN_LEN) {
			out++;
		}
		changes += at != last;
		last = at;
	}
	results[cpu].v[1] = found;
	results[cpu].v[2] = sum;
	results[cpu].v[3] = out;
	adv_reader_done(&scanners_left);
}

static void adv_rep_run(struct wctx *w, int cpu)
{
	adv_touch(srcs + (u64)cpu * REP_BUF, REP_BUF);
	adv_touch(dsts + (u64)cpu * REP_BUF, REP_BUF);
	adv_touch(scan, SCAN_LEN);
	adv_gate(&rep_arrived, (u64)w->ncpus);
	copies(cpu);
	if (cpu == 0)
		mover();
	else
		scanner(cpu);
}

static int adv_rep_check(struct wctx *w)
{
	u64 bad = 0, found = 0, sum = 0, out = 0, markers = 0;

	for (int c = 0; c < w->ncpus; c++) {
		bad += results[c].v[0];
		found += results[c].v[1];
		sum += results[c].v[2];
		out += results[c].v[3];
	}
	for (u64 k = 0; k < SCAN_LEN; k++)
		markers += scan[k] != 0;
	kprintf("adv-rep: %lu rounds of %lu-byte copies, %lu mismatches\n", rounds, (u64)REP_BUF, bad);
	kprintf("adv-rep: %lu marker bytes left (want 1), %lu scans went past the area\n", markers, out);
	kprintf("adv-rep: race: marker moved %lu times, found %lu times, offsets sum %lu\n", moves, found, sum);
	return bad != 0 || out != 0 || markers != 1;
}

const struct workload wl_adv_rep = {
	.name = "adv-rep",
	.usage = adv_rep_usage,
	.setup = adv_rep_setup,
	.run = adv_rep_run,
	.check = adv_rep_check,
};
