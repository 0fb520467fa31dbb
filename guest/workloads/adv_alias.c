/*
 * adv-alias: the same physical RAM at two virtual addresses. This
 * workload WRITES THE GUEST'S PAGE TABLES: setup points entry 0 of the
 * page directory for the 1-2 GiB region (the PD page at 0x6000, see
 * guest/ABI.md) at a 2 MiB frame of RAM it allocated, as a 2 MiB user
 * page (P|RW|US|A|D|PS), so virtual 0x40000000 aliases that frame, which
 * stays mapped at its identity address too. The entry is left in place.
 * No TLB flush is needed: nothing touched 0x40000000 before (and a CPL-3
 * guest cannot invlpg). Every CPU first reads the directory entry back
 * through its identity address (a plain load of page 0x6000, as a
 * page-table walk would read it).
 *
 * Then each step, even CPUs store to their word of the frame's first
 * page through the alias and load the next CPU's word through the
 * identity address; odd CPUs do the opposite; every CPU adds to a
 * counter in the frame's sixth page with lock incq, even CPUs through the
 * alias, odd ones through the identity address. A recorder that takes
 * virtual addresses for physical ones names the wrong page, or one
 * outside RAM. The counter must be exact and both views must agree.
 */
#include "adv.h"

static const char adv_alias_usage[] = "[iterations (default 20000)]";

#define ALIAS_VA 0x40000000UL
#define ALIAS_PD ((volatile u64 *)0x6000UL)	/* page directory of 1-2 GiB */
#define PDE_FLAGS 0xe7UL	/* P | RW | US | A | D | PS */
#define FRAME_SIZE (2UL << 20)

static u64 iterations;
static u8 *frame;
static u64 pde;
static volatile u64 alias_arrived;	/* CPUs at the start line */
/* v[0] largest value read, v[1] changes seen, v[2] directory entry read
 * wrong, v[3] steps made. */
static struct adv_slot results[ADV_MAX_CPUS];
static volatile u64 done[ADV_MAX_CPUS];

static volatile u64 *word(u8 *base, int cpu) { return (volatile u64 *)(base + 64 * (u64)cpu); }

static void lock_inc(volatile u64 *p) { asm volatile("lock incq (%0)" : : "r"(p) : "memory", "cc"); }

static int adv_alias_setup(struct wctx *w)
{
	args_at_most(w, 1, adv_alias_usage);
	iterations = arg_range(w, 1, 20000, 0, 1UL << 40, adv_alias_usage);
	if (adv_cpus(w))
		return 1;
	frame = kalloc_or_die(FRAME_SIZE, FRAME_SIZE);
	pde = (u64)frame | PDE_FLAGS;
	ALIAS_PD[0] = pde;
	return 0;
}

static void adv_alias_run(struct wctx *w, int cpu)
{
	u8 *alias = (u8 *)ALIAS_VA;
	int other = (cpu ^ 1) < w->ncpus ? cpu ^ 1 : cpu;
	u8 *mine = (cpu & 1) ? frame : alias, *theirs = (cpu & 1) ? alias : frame;
	volatile u64 *counter = (volatile u64 *)(mine + 5 * ADV_PAGE);
	u64 max = 0, changes = 0, last = 0, i;

	results[cpu].v[2] = ALIAS_PD[0] != pde;
	adv_touch(frame, 6 * ADV_PAGE);
	adv_touch(alias, 6 * ADV_PAGE);
	adv_gate(&alias_arrived, (u64)w->ncpus);
	/* Past its iterations a CPU goes on until it saw the other's word
	 * change a few times, or the other is done. */
	for (i = 1; i <= iterations || (changes < ADV_MIN_CHANGES && other != cpu &&
					!__atomic_load_n(&done[other], __ATOMIC_ACQUIRE));
	     i++) {
		*word(mine, cpu) = i;
		u64 v = *word(theirs, other);
		max = v > max ? v : max;
		changes += v != last;
		last = v;
		if (i <= iterations)
			lock_inc(counter);
	}
	results[cpu].v[0] = max;
	results[cpu].v[1] = changes;
	results[cpu].v[3] = i - 1;
	__atomic_store_n(&done[cpu], 1, __ATOMIC_RELEASE);
}

static int adv_alias_check(struct wctx *w)
{
	u8 *alias = (u8 *)ALIAS_VA;
	u64 bad = 0, changes = 0, wrongpde = 0, disagree = 0;

	for (int c = 0; c < w->ncpus; c++) {
		int other = (c ^ 1) < w->ncpus ? c ^ 1 : c;
		bad += results[c].v[0] > results[other].v[3];
		changes += results[c].v[1];
		wrongpde += results[c].v[2];
		disagree += *word(frame, c) != results[c].v[3] || *word(alias, c) != results[c].v[3];
	}
	u64 count = *(volatile u64 *)(frame + 5 * ADV_PAGE), want = iterations * (u64)w->ncpus;
	kprintf("adv-alias: %lu iterations, counter %lu of %lu, %lu words wrong in a view, %lu cpus read impossible "
		"values, %lu cpus read the directory entry wrong\n",
		iterations, count, want, disagree, bad, wrongpde);
	kprintf("adv-alias: race: readers saw %lu changes\n", changes);
	return count != want || disagree || bad || wrongpde;
}

const struct workload wl_adv_alias = {
	.name = "adv-alias",
	.usage = adv_alias_usage,
	.setup = adv_alias_setup,
	.run = adv_alias_run,
	.check = adv_alias_check,
};
