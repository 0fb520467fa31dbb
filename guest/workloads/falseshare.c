/*
 * falseshare: every CPU increments a word of its own, but the words are
 * packed eight to a cache line, so the line bounces between the CPUs
 * although no word is shared. check wants every word's exact count.
 */
#include "alloc.h"
#include "helpers.h"

static const char falseshare_usage[] = "[iterations per cpu (default 2000000)]";
static u64 iterations;
static volatile u64 *words;	/* words[cpu]; CPUs 0-7 share the first line */

static int falseshare_setup(struct wctx *w)
{
	args_at_most(w, 1, falseshare_usage);
	iterations = arg_range(w, 1, 2000000, 0, 1UL << 40, falseshare_usage);
	words = kalloc_or_die((u64)w->ncpus * sizeof(u64), CACHE_LINE);
	return 0;
}

static void falseshare_run(struct wctx *w, int cpu)
{
	volatile u64 *mine = &words[cpu];

	(void)w;
	for (u64 i = 0; i < iterations; i++)
		*mine = *mine + 1;
}

static int falseshare_check(struct wctx *w)
{
	int bad = 0;

	for (int c = 0; c < w->ncpus; c++)
		if (words[c] != iterations)
			bad++;
	kprintf("falseshare: %d words of %lu increments, %d wrong\n", w->ncpus, iterations, bad);
	return bad != 0;
}

const struct workload wl_falseshare = {
	.name = "falseshare",
	.usage = falseshare_usage,
	.setup = falseshare_setup,
	.run = falseshare_run,
	.check = falseshare_check,
};
