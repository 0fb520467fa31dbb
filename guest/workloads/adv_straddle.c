/*
 * adv-straddle: accesses that straddle a 4 KiB page boundary, so one
 * instruction needs two pages. CPU 0 writes step after step until the
 * other CPUs have each done their iterations of reads (how many steps
 * that took is racy), on ten shared pages:
 *  - an 8-byte store and load across pages 0|1 (value i in both halves);
 *  - lock xadd and lock inc of an 8-byte counter across pages 1|2, by
 *    every CPU (a split lock); the total must be exact;
 *  - 16-byte movdqu across pages 2|3 (value i in all four dwords);
 *  - 32-byte vmovdqu across pages 3|4, when CPUID says AVX and OSXSAVE
 *    and XCR0 enables the YMM state (otherwise skipped, and said so);
 *  - movsq whose source (pages 4|5, written by CPU 0) and destination
 *    (pages 6|7) both straddle, by the reading CPUs, which then load the
 *    destination back.
 * A torn value (halves from different stores) is legitimate on real
 * hardware and counted; a value no store wrote (above CPU 0's last step)
 * is not. The optional
 * second argument, a bit mask, picks the parts (1 8-byte, 2 split lock,
 * 4 SSE, 8 AVX, 16 movsq; default all).
 */
#include "adv.h"

static const char adv_straddle_usage[] = "[iterations (default 20000)] [parts mask (default 31: all)]";

#define P_8 1
#define P_LOCK 2
#define P_SSE 4
#define P_AVX 8
#define P_MOVSQ 16

static u64 iterations, parts;
static u8 *region;
static int have_avx;
static u32 avx_bits[3];	/* cpuid avx, osxsave, xcr0 & 6 */
static volatile u64 straddle_arrived;	/* CPUs at the start line */
static volatile u64 readers_left, writer_started;
static u64 writes;	/* CPU 0's last step */

/* v[0] largest dword read, v[1] torn values, v[2] value changes seen,
 * v[3] largest lock xadd result. */
static struct adv_slot results[ADV_MAX_CPUS];

/* Where each access sits: across the end of page n of the region. */
static u8 *across(int page, int before) { return region + (u64)page * ADV_PAGE - (u64)before; }
static u8 *at8(void) { return across(1, 4); }
static u8 *atlock(void) { return across(2, 4); }
static u8 *at16(void) { return across(3, 8); }
static u8 *at32(void) { return across(4, 16); }
static u8 *atsrc(void) { return across(5, 4); }
static u8 *atdst(void) { return across(7, 4); }

static void store8(u8 *p, u64 v)
{
	asm volatile("movq %[v], (%[p])" : : [v] "r"(v), [p] "r"(p) : "memory");
}

static u64 load8(const u8 *p)
{
	u64 v;
	asm volatile("movq (%[p]), %[v]" : [v] "=r"(v) : [p] "r"(p) : "memory");
	return v;
}

static void store16(u8 *p, u32 v)
{
	asm volatile("movd %[v], %%xmm0\n\t"
		     "pshufd $0, %%xmm0, %%xmm0\n\t"
		     "movdqu %%xmm0, (%[p])"
		     : : [v] "r"(v), [p] "r"(p) : "memory", "xmm0");
}

static void load16(const u8 *p, u32 out[4])
{
	asm volatile("movdqu (%[p]), %%xmm0\n\t"
		     "movdqu %%xmm0, (%[out])"
		     : : [p] "r"(p), [out] "r"(out) : "memory", "xmm0");
}

static void store32(u8 *p, u32 v)
{
	asm volatile("vmovd %[v], %%xmm0\n\t"
		     "vpshufd $0, %%xmm0, %%xmm0\n\t"
		     "vinsertf128 $1, %%xmm0, %%ymm0, %%ymm0\n\t"
		     "vmovdqu %%ymm0, (%[p])\n\t"
		     "vzeroupper"
		     : : [v] "r"(v), [p] "r"(p) : "memory", "xmm0");
}

static void load32(const u8 *p, u32 out[8])
{
	asm volatile("vmovdqu (%[p]), %%ymm0\n\t"
		     "vmovdqu %%ymm0, (%[out])\n\t"
		     "vzeroupper"
		     : : [p] "r"(p), [out] "r"(out) : "memory", "xmm0");
}

static void movsq(const u8 *src, u8 *dst)
{
	asm volatile("movsq" : "+S"(src), "+D"(dst) : : "memory");
}

static u64 lock_xadd(u8 *p, u64 v)
{
	asm volatile("lock xaddq %[v], (%[p])" : [v] "+r"(v) : [p] "r"(p) : "memory", "cc");
	return v;
}

static void lock_inc(u8 *p)
{
	asm volatile("lock incq (%[p])" : : [p] "r"(p) : "memory", "cc");
}

static u64 xgetbv0(void)
{
	u32 lo, hi;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (u64)hi << 32 | lo;
}

static int adv_straddle_setup(struct wctx *w)
{
	args_at_most(w, 2, adv_straddle_usage);
	iterations = arg_range(w, 1, 20000, 0, 0xffffffffUL, adv_straddle_usage);
	parts = arg_range(w, 2, 31, 0, 31, adv_straddle_usage);
	if (adv_cpus(w))
		return 1;
	region = adv_pages(10);
	avx_bits[0] = (u32)adv_cpuid_bit(1, 0, 2, 28);
	avx_bits[1] = (u32)adv_cpuid_bit(1, 0, 2, 27);
	/* xgetbv faults unless CR4.OSXSAVE, which CPUID's OSXSAVE reflects. */
	avx_bits[2] = avx_bits[1] ? (u32)(xgetbv0() & 6) : 0;
	have_avx = avx_bits[0] && avx_bits[1] && avx_bits[2] == 6 && (parts & P_AVX);
	readers_left = (u64)w->ncpus - 1;
	return 0;
}

/* What a reader saw. */
struct seen {
	u64 max, torn, changes;
	u32 last8, last16, last32, lastmov;
};

/* classify a value of n dwords: torn if they differ. */
static void classify(const u32 *d, int n, struct seen *s, u32 *last)
{
	int torn = 0;
	for (int k = 0; k < n; k++) {
		if (d[k] > s->max)
			s->max = d[k];
		if (d[k] != d[0])
			torn = 1;
	}
	s->torn += (u64)torn;
	if (d[0] != *last)
		s->changes++;
	*last = d[0];
}

static u64 lock_part(u64 maxold)
{
	u64 old = lock_xadd(atlock(), 1);
	lock_inc(atlock());
	return old > maxold ? old : maxold;
}

static void writer(void)
{
	u64 i, maxold = 0;

	for (i = 1; adv_writer_more(i, 1, &readers_left); i++) {
		if (parts & P_8)
			store8(at8(), i << 32 | i);
		if (parts & P_SSE)
			store16(at16(), (u32)i);
		if (have_avx)
			store32(at32(), (u32)i);
		if (parts & P_MOVSQ)
			store8(atsrc(), i << 32 | i);
		if (i == 1)
			adv_writer_started(&writer_started);
	}
	writes = i - 1;
	for (i = 1; (parts & P_LOCK) && i <= iterations / 4; i++)
		maxold = lock_part(maxold);
	results[0].v[3] = maxold;
}

static void reader(int cpu)
{
	struct seen s = {0};
	u64 maxold = 0;

	adv_wait_writer(&writer_started);
	int values = (parts & (P_8 | P_SSE | P_AVX | P_MOVSQ)) != 0;
	for (u64 k = 1; k <= iterations || (values && s.changes < ADV_MIN_CHANGES); k++) {
		u32 d[8];
		u64 v;
		if (parts & P_8) {
			v = load8(at8());
			d[0] = (u32)v;
			d[1] = (u32)(v >> 32);
			classify(d, 2, &s, &s.last8);
		}
		if (parts & P_SSE) {
			load16(at16(), d);
			classify(d, 4, &s, &s.last16);
		}
		if (have_avx) {
			load32(at32(), d);
			classify(d, 8, &s, &s.last32);
		}
		if (parts & P_MOVSQ) {
			movsq(atsrc(), atdst());
			v = load8(atdst());
			d[0] = (u32)v;
			d[1] = (u32)(v >> 32);
			classify(d, 2, &s, &s.lastmov);
		}
		if ((parts & P_LOCK) && k <= iterations && k % 4 == 0)
			maxold = lock_part(maxold);
	}
	results[cpu].v[0] = s.max;
	results[cpu].v[1] = s.torn;
	results[cpu].v[2] = s.changes;
	results[cpu].v[3] = maxold;
	adv_reader_done(&readers_left);
}

static void adv_straddle_run(struct wctx *w, int cpu)
{
	(void)w;
	adv_touch(region, 10 * ADV_PAGE);
	adv_gate(&straddle_arrived, (u64)w->ncpus);
	if (cpu == 0)
		writer();
	else
		reader(cpu);
}

static int adv_straddle_check(struct wctx *w)
{
	u64 max = 0, torn = 0, changes = 0, maxold = 0;
	u64 want_lock = parts & P_LOCK ? iterations / 4 * 2 * (u64)w->ncpus : 0;
	u64 lockv = load8(atlock());

	for (int c = 0; c < w->ncpus; c++) {
		if (c > 0 && results[c].v[0] > max)
			max = results[c].v[0];
		torn += results[c].v[1];
		changes += results[c].v[2];
		if (results[c].v[3] > maxold)
			maxold = results[c].v[3];
	}
	u64 fin8 = load8(at8()), finsrc = load8(atsrc()), fin = writes << 32 | writes;
	u32 fin16[4];
	load16(at16(), fin16);
	int final_ok = (!(parts & P_8) || fin8 == fin) && (!(parts & P_MOVSQ) || finsrc == fin) &&
		       (!(parts & P_SSE) || (fin16[0] == (u32)writes && fin16[3] == (u32)writes));
	if (have_avx) {
		u32 fin32[8];
		load32(at32(), fin32);
		final_ok = final_ok && fin32[0] == (u32)writes && fin32[7] == (u32)writes;
		kprintf("adv-straddle: avx: 32-byte straddling accesses on\n");
	} else {
		kprintf("adv-straddle: avx: skipped (cpuid avx %u osxsave %u, xcr0 ymm|sse %x, parts %lx)\n",
			avx_bits[0], avx_bits[1], avx_bits[2], parts);
	}
	kprintf("adv-straddle: parts %lx, %lu reads per reader, final values %s, largest value read %s\n", parts,
		iterations, final_ok ? "right" : "WRONG", max <= writes ? "possible" : "IMPOSSIBLE");
	kprintf("adv-straddle: split-lock counter %lu of %lu\n", lockv, want_lock);
	kprintf("adv-straddle: race: writer took %lu steps, readers saw %lu changes, %lu torn values; largest xadd "
		"result %lu\n",
		writes, changes, torn, maxold);
	return !final_ok || max > writes || lockv != want_lock || (want_lock && maxold >= want_lock);
}

const struct workload wl_adv_straddle = {
	.name = "adv-straddle",
	.usage = adv_straddle_usage,
	.setup = adv_straddle_setup,
	.run = adv_straddle_run,
	.check = adv_straddle_check,
};
