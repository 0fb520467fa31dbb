/*
 * adv-xsave: fxsave/fxrstor and xsave/xrstor (512 bytes and more, in one
 * instruction) into shared pages while other CPUs read them. Every CPU
 * has one save area of each kind; the areas are packed so that each one
 * straddles a page boundary and shares its pages with its neighbours'.
 * Each step a CPU sets xmm0 to (cpu << 32 | step) and xmm1 to its
 * complement, then:
 *  - fxsave64 into its area, checks xmm0's slot there, fxrstor64 from it
 *    and checks xmm0 (exact);
 *  - fxrstor64 from the next CPU's area, which that CPU may be saving
 *    into at the time, and looks at xmm0: it must carry the next CPU's
 *    number (which step is racy); restores its own area again;
 *  - reads the next CPU's xmm0 slot with a plain load (racy, same check);
 *  - the same with xsave64/xrstor64 and the features XCR0 enables, when
 *    CPUID says XSAVE and OSXSAVE (xsave faults without CR4.OSXSAVE);
 *    otherwise skipped, and said so.
 * The optional second argument, a bit mask, picks the parts (1 fxsave,
 * 2 xsave; default both).
 */
#include "adv.h"

static const char adv_xsave_usage[] = "[iterations (default 5000)] [parts mask (default 3: both)]";

#define FX_SIZE 512
#define XMM0_SLOT 160	/* xmm0's offset in the legacy region of both formats */

static u64 iterations, parts;
static u8 *fx_areas, *x_areas;
static u64 x_size;	/* one xsave area, rounded up to 64 bytes */
static u32 xcr0_lo, xcr0_hi;
static int have_xsave;
static u32 xsave_bits[2];	/* cpuid xsave, osxsave */
static volatile u64 xsave_arrived;	/* CPUs at the start line */
/* v[0] wrong own values, v[1] impossible neighbour values, v[2]
 * neighbour value changes seen, v[3] xsave neighbour value changes seen,
 * v[4] largest neighbour step seen, v[5] steps made. */
static struct adv_slot results[ADV_MAX_CPUS];
static volatile u64 stopped[ADV_MAX_CPUS];

/* The areas start 256 bytes before a page boundary. */
static u8 *fx_area(int cpu) { return fx_areas + ADV_PAGE - 256 + FX_SIZE * (u64)cpu; }
static u8 *x_area(int cpu) { return x_areas + ADV_PAGE - 1024 + x_size * (u64)cpu; }

/*
 * fxsave_with sets xmm0 to v and xmm1 to ~v (both halves), then saves
 * into area, in one asm so that the compiler cannot use them in between.
 */
static void fxsave_with(u8 *area, u64 v)
{
	asm volatile("movq %[v], %%xmm0\n\t"
		     "punpcklqdq %%xmm0, %%xmm0\n\t"
		     "movq %[nv], %%xmm1\n\t"
		     "punpcklqdq %%xmm1, %%xmm1\n\t"
		     "fxsave64 (%[a])"
		     : : [v] "r"(v), [nv] "r"(~v), [a] "r"(area) : "memory", "xmm0", "xmm1");
}

/* fxrstor_peek restores from area and returns xmm0's low qword; fxrstor
 * loads every xmm register, so all are clobbered. */
static u64 fxrstor_peek(const u8 *area)
{
	u64 v;
	asm volatile("fxrstor64 (%[a])\n\tmovq %%xmm0, %[v]"
		     : [v] "=r"(v) : [a] "r"(area)
		     : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
		       "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return v;
}

static void xsave_with(u8 *area, u64 v)
{
	asm volatile("movq %[v], %%xmm0\n\t"
		     "punpcklqdq %%xmm0, %%xmm0\n\t"
		     "movq %[nv], %%xmm1\n\t"
		     "punpcklqdq %%xmm1, %%xmm1\n\t"
		     "xsave64 (%[a])"
		     : : [v] "r"(v), [nv] "r"(~v), [a] "r"(area), "a"(xcr0_lo), "d"(xcr0_hi)
		     : "memory", "xmm0", "xmm1");
}

static u64 xrstor_peek(const u8 *area)
{
	u64 v;
	asm volatile("xrstor64 (%[a])\n\tmovq %%xmm0, %[v]"
		     : [v] "=r"(v) : [a] "r"(area), "a"(xcr0_lo), "d"(xcr0_hi)
		     : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
		       "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return v;
}

static int adv_xsave_setup(struct wctx *w)
{
	args_at_most(w, 2, adv_xsave_usage);
	iterations = arg_range(w, 1, 5000, 0, 0xffffffffUL, adv_xsave_usage);
	parts = arg_range(w, 2, 3, 0, 3, adv_xsave_usage);
	if (adv_cpus(w))
		return 1;
	fx_areas = adv_pages(2 + (u64)w->ncpus * FX_SIZE / ADV_PAGE + 1);
	xsave_bits[0] = (u32)adv_cpuid_bit(1, 0, 2, 26);
	xsave_bits[1] = (u32)adv_cpuid_bit(1, 0, 2, 27);
	have_xsave = xsave_bits[0] && xsave_bits[1] && (parts & 2);
	/* Every area starts as a valid image (fxrstor/xrstor of garbage
	 * faults) of its owner's step 0. */
	for (int c = 0; c < w->ncpus; c++)
		fxsave_with(fx_area(c), (u64)c << 32);
	if (have_xsave) {
		u32 r[4];
		asm volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
		adv_cpuid(0xd, 0, r);
		x_size = ((u64)r[2] + 63) & ~63UL;	/* ecx: the largest area any XCR0 needs */
		if (x_size < FX_SIZE + 64 || x_size > 3 * ADV_PAGE) {
			kprintf("adv-xsave: CPUID leaf 0xd gives an xsave area of %u bytes\n", r[2]);
			return 1;
		}
		x_areas = adv_pages(2 + (u64)w->ncpus * x_size / ADV_PAGE + 1);
		for (int c = 0; c < w->ncpus; c++)
			xsave_with(x_area(c), (u64)c << 32);
	}
	return 0;
}

/* valid: a value of the owner's (whose step is checked in check). */
static int valid(u64 v, int owner, u64 *maxstep)
{
	if ((v & 0xffffffff) > *maxstep)
		*maxstep = v & 0xffffffff;
	return (v >> 32) == (u64)owner;
}

static void adv_xsave_run(struct wctx *w, int cpu)
{
	u64 r[4] = {0};	/* as results[cpu].v, kept local until the end */
	int next = (cpu + 1) % w->ncpus;
	u64 last = 0, xlast = 0, maxstep = 0, i;

	adv_touch(fx_area(0), FX_SIZE * (u64)w->ncpus);
	if (have_xsave)
		adv_touch(x_area(0), x_size * (u64)w->ncpus);
	adv_gate(&xsave_arrived, (u64)w->ncpus);
	/* Past its iterations a CPU goes on until it saw the next CPU's
	 * values change a few times, or that CPU stopped. */
	for (i = 1; i <= iterations || (r[2] + r[3] < ADV_MIN_CHANGES && next != cpu &&
					 !__atomic_load_n(&stopped[next], __ATOMIC_ACQUIRE));
	     i++) {
		u64 v = (u64)cpu << 32 | i, n;
		if (parts & 1) {
			fxsave_with(fx_area(cpu), v);
			r[0] += *(volatile u64 *)(fx_area(cpu) + XMM0_SLOT) != v;
			r[0] += fxrstor_peek(fx_area(cpu)) != v;
			n = fxrstor_peek(fx_area(next));
			r[0] += fxrstor_peek(fx_area(cpu)) != v;
			r[1] += !valid(n, next, &maxstep);
			r[2] += n != last;
			last = n;
			r[1] += !valid(*(volatile u64 *)(fx_area(next) + XMM0_SLOT), next, &maxstep);
		}
		if (have_xsave) {
			xsave_with(x_area(cpu), v);
			r[0] += *(volatile u64 *)(x_area(cpu) + XMM0_SLOT) != v;
			r[0] += xrstor_peek(x_area(cpu)) != v;
			n = xrstor_peek(x_area(next));
			r[0] += xrstor_peek(x_area(cpu)) != v;
			r[1] += !valid(n, next, &maxstep);
			r[3] += n != xlast;
			xlast = n;
			r[1] += !valid(*(volatile u64 *)(x_area(next) + XMM0_SLOT), next, &maxstep);
		}
	}
	for (int k = 0; k < 4; k++)
		results[cpu].v[k] = r[k];
	results[cpu].v[4] = maxstep;
	results[cpu].v[5] = i - 1;
	__atomic_store_n(&stopped[cpu], 1, __ATOMIC_RELEASE);
}

static int adv_xsave_check(struct wctx *w)
{
	u64 t[4] = {0};

	for (int c = 0; c < w->ncpus; c++) {
		for (int k = 0; k < 4; k++)
			t[k] += results[c].v[k];
		t[1] += results[c].v[4] > results[(c + 1) % w->ncpus].v[5];	/* a step not made yet */
	}
	if (have_xsave)
		kprintf("adv-xsave: xsave: on, xcr0 %x, area %lu bytes\n", xcr0_lo, x_size);
	else
		kprintf("adv-xsave: xsave: skipped (cpuid xsave %u osxsave %u, parts %lx)\n", xsave_bits[0],
			xsave_bits[1], parts);
	kprintf("adv-xsave: %lu iterations, %lu wrong own values, %lu impossible neighbour values\n", iterations,
		t[0], t[1]);
	kprintf("adv-xsave: race: neighbour value changed %lu times (fxrstor), %lu times (xrstor)\n", t[2], t[3]);
	return t[0] != 0 || t[1] != 0;
}

const struct workload wl_adv_xsave = {
	.name = "adv-xsave",
	.usage = adv_xsave_usage,
	.setup = adv_xsave_setup,
	.run = adv_xsave_run,
	.check = adv_xsave_check,
};
