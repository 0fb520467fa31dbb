/*
 * racy-counter: every CPU increments one shared counter without
 * synchronisation, so updates get lost and the total varies from run to
 * run. locked-counter: the same under a spinlock; the total is exact.
 */
#include "console.h"
#include "sync.h"
#include "workload.h"

static u64 iterations;
static volatile u64 counter __attribute__((aligned(CACHE_LINE)));
static struct spinlock counter_lock;

static int counter_setup(struct wctx *w)
{
	iterations = arg_u64(w, 1, 1000000);
	counter = 0;
	return 0;
}

static void racy_run(struct wctx *w, int cpu)
{
	(void)w;
	(void)cpu;
	for (u64 i = 0; i < iterations; i++)
		counter = counter + 1;
}

static void locked_run(struct wctx *w, int cpu)
{
	(void)w;
	(void)cpu;
	for (u64 i = 0; i < iterations; i++) {
		spin_lock(&counter_lock);
		counter = counter + 1;
		spin_unlock(&counter_lock);
	}
}

static int racy_check(struct wctx *w)
{
	u64 want = iterations * (u64)w->ncpus;
	kprintf("racy-counter: %lu of %lu increments survived\n", counter, want);
	/* Lost updates are legitimate, even below one CPU's share (a stale
	 * store can undo many increments); more than the total, or none at
	 * all, is not. */
	return counter > want || (iterations > 0 && counter == 0);
}

static int locked_check(struct wctx *w)
{
	u64 want = iterations * (u64)w->ncpus;
	kprintf("locked-counter: %lu of %lu\n", counter, want);
	return counter != want;
}

const struct workload wl_racy_counter = {
	.name = "racy-counter",
	.usage = "[iterations per cpu]",
	.setup = counter_setup,
	.run = racy_run,
	.check = racy_check,
};

const struct workload wl_locked_counter = {
	.name = "locked-counter",
	.usage = "[iterations per cpu]",
	.setup = counter_setup,
	.run = locked_run,
	.check = locked_check,
};
