/*
 * adv-gather: AVX2 gathers (vpgatherdd) from a shared table that CPU 0
 * keeps rewriting. A gather's addresses come from a vector register,
 * which the VMM does not read at a fault, so the recorder cannot tell
 * which page it wanted: this is the workload that exercises its
 * fallback (every page granted, see vmm/crewfault.go). Each table word
 * holds the writer's step in every slot; a gathered word must be a step
 * the writer made. Skipped, and said so, without AVX2 and OSXSAVE.
 */
#include "adv.h"

static const char adv_gather_usage[] = "[gathers per reader (default 2000)]";

#define GATHER_WORDS 8
#define GATHER_STRIDE 1024	/* words between gathered elements: 4 KiB, a page each */

static u64 iterations;
static u32 *table;
static int have_avx2;
static volatile u64 started, readers_left;
static u64 writer_steps;
/* v[0] impossible values, v[1] value changes seen. */
static struct adv_slot results[ADV_MAX_CPUS];

static int adv_gather_setup(struct wctx *w)
{
	if (adv_cpus(w))
		return 1;
	iterations = arg_u64(w, 1, 2000);
	have_avx2 = adv_cpuid_bit(7, 0, 1, 5) && adv_cpuid_bit(1, 0, 2, 27) && adv_cpuid_bit(1, 0, 2, 28);
	table = (u32 *)adv_pages(GATHER_WORDS);
	started = 0;
	readers_left = (u64)w->ncpus - 1;
	writer_steps = 0;
	memset(results, 0, sizeof(results));
	return 0;
}

/* gather loads table[i * GATHER_STRIDE] for i = 0..7 in one vpgatherdd. */
static void gather(u32 out[GATHER_WORDS])
{
	static const u32 idx[GATHER_WORDS] = {0, 1 * GATHER_STRIDE, 2 * GATHER_STRIDE, 3 * GATHER_STRIDE,
					      4 * GATHER_STRIDE, 5 * GATHER_STRIDE, 6 * GATHER_STRIDE,
					      7 * GATHER_STRIDE};
	asm volatile("vmovdqu (%[idx]), %%ymm1\n\t"
		     "vpcmpeqd %%ymm2, %%ymm2, %%ymm2\n\t"
		     "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
		     "vpgatherdd %%ymm2, (%[t], %%ymm1, 4), %%ymm0\n\t"
		     "vmovdqu %%ymm0, (%[out])\n\t"
		     "vzeroupper"
		     : : [idx] "r"(idx), [t] "r"(table), [out] "r"(out) : "memory", "xmm0", "xmm1", "xmm2");
}

static void adv_gather_run(struct wctx *w, int cpu)
{
	(void)w;
	if (!have_avx2)
		return;
	if (cpu == 0) {
		u64 step = 1;
		for (; adv_writer_more(step, iterations, &readers_left); step++) {
			for (int i = 0; i < GATHER_WORDS; i++)
				__atomic_store_n(&table[i * GATHER_STRIDE], (u32)step, __ATOMIC_RELAXED);
			if (step == 1)
				adv_writer_started(&started);
		}
		writer_steps = step;
		return;
	}
	adv_wait_writer(&started);
	u32 last = 0;
	u64 changes = 0;
	for (u64 i = 0; i < iterations || changes < ADV_MIN_CHANGES; i++) {
		u32 got[GATHER_WORDS];
		gather(got);
		for (int k = 0; k < GATHER_WORDS; k++) {
			if (got[k] == 0)
				results[cpu].v[0]++;
			if (got[k] != last)
				changes++;
			last = got[k];
		}
		if (i > 100 * iterations)
			break; /* the writer stopped: nothing more to see */
	}
	results[cpu].v[1] = changes;
	adv_reader_done(&readers_left);
}

static int adv_gather_check(struct wctx *w)
{
	u64 bad = 0, changes = 0;

	if (!have_avx2) {
		kprintf("adv-gather: skipped (no AVX2 or OSXSAVE)\n");
		return 0;
	}
	for (int c = 1; c < w->ncpus; c++) {
		bad += results[c].v[0];
		changes += results[c].v[1];
	}
	kprintf("adv-gather: %lu gathers per reader, %lu impossible values\n", iterations, bad);
	kprintf("adv-gather: race: %lu writer steps, %lu value changes seen\n", writer_steps, changes);
	return bad != 0;
}

const struct workload wl_adv_gather = {
	.name = "adv-gather",
	.usage = adv_gather_usage,
	.setup = adv_gather_setup,
	.run = adv_gather_run,
	.check = adv_gather_check,
};
