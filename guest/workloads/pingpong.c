/*
 * pingpong: a turn variable bounces between the CPUs in order 0, 1, ...,
 * ncpus-1, 0, ...; only the CPU whose turn it is increments the shared
 * value, then passes the turn on. Each CPU checks, on its turn, that the
 * value is exactly what the order implies; check wants the exact total.
 */
#include "alloc.h"
#include "helpers.h"

/* The turn and the value share a line: both bounce together. */
struct pingpong_shared {
	volatile u64 turn;
	u64 value;
} __attribute__((aligned(CACHE_LINE)));

struct pingpong_cpu {
	struct sleeper sleeper;
	u64 errors;
} __attribute__((aligned(CACHE_LINE)));

static const char pingpong_usage[] = "[rounds (default 20000)]";
static u64 rounds;
static struct pingpong_shared shared;
static struct pingpong_cpu *cpus;

static int pingpong_setup(struct wctx *w)
{
	args_at_most(w, 1, pingpong_usage);
	rounds = arg_range(w, 1, 20000, 0, 1UL << 40, pingpong_usage);
	cpus = kalloc_or_die((u64)w->ncpus * sizeof(*cpus), CACHE_LINE);
	shared.turn = 0;
	shared.value = 0;
	return 0;
}

static void pingpong_run(struct wctx *w, int cpu)
{
	int next = (cpu + 1) % w->ncpus;
	struct pingpong_cpu *me = &cpus[cpu];

	for (u64 r = 0; r < rounds; r++) {
		u64 turn, spins = 0;
		while ((turn = __atomic_load_n(&shared.turn, __ATOMIC_ACQUIRE)) != (u64)cpu)
			sleeper_wait(&me->sleeper, &shared.turn, turn, &spins);
		if (shared.value != r * (u64)w->ncpus + (u64)cpu)
			me->errors++;
		shared.value++;
		__atomic_store_n(&shared.turn, (u64)next, __ATOMIC_SEQ_CST);
		sleeper_wake(&cpus[next].sleeper, next);
	}
}

static int pingpong_check(struct wctx *w)
{
	u64 want = rounds * (u64)w->ncpus, bad = 0;

	for (int c = 0; c < w->ncpus; c++)
		bad += cpus[c].errors;
	kprintf("pingpong: %lu of %lu increments, %lu out of turn\n", shared.value, want, bad);
	return shared.value != want || bad != 0;
}

const struct workload wl_pingpong = {
	.name = "pingpong",
	.usage = pingpong_usage,
	.setup = pingpong_setup,
	.run = pingpong_run,
	.check = pingpong_check,
};
