/*
 * clock: reads the paravirtual clock while computing; the readings must
 * never go backwards. Its output depends on time, so record/replay tests
 * use it to show that replay feeds the recorded readings back; with many
 * readings it is a long recording of one vCPU that exits steadily (the
 * checkpoint benchmark's).
 */
#include "bisect_site.h"
#include "console.h"
#include "helpers.h"
#include "hypercall.h"

static const char clock_usage[] = "[readings (default 16)]";
/* sum keeps every reading in the guest's state, so that a replay fed
 * another value for any of them ends in other memory. */
static u64 nreadings, first, last, sum;
static int backwards;

static int clock_setup(struct wctx *w)
{
	args_at_most(w, 1, clock_usage);
	nreadings = arg_range(w, 1, 16, 2, 100000000, clock_usage);
	return 0;
}

static void clock_run(struct wctx *w, int cpu)
{
	(void)w;
	if (cpu != 0)
		return;
	volatile u64 sink = 0;
	first = last = sum = hc_time();
	for (u64 i = 1; i < nreadings; i++) {
		for (u64 j = 0; j < 100000; j++)
			sink += j;
		u64 now = hc_time();
		if (now < last)
			backwards++;
		last = now;
		sum += now;
		if (i == nreadings / 2)
			sum = bisect_site(sum);
	}
}

static int clock_check(struct wctx *w)
{
	(void)w;
	if (backwards)
		return 1;
	kprintf("clock: %lu readings over %lu ns\n", nreadings, last - first);
	return 0;
}

const struct workload wl_clock = {
	.name = "clock",
	.usage = clock_usage,
	.setup = clock_setup,
	.run = clock_run,
	.check = clock_check,
};
