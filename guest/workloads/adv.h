/*
 * Helpers for the adversarial workloads (adv-*.c): each races the CPUs
 * through one class of instruction that a multiprocessor recorder must
 * decode or handle exactly, on memory that several CPUs share. Every one
 * prints what it observed from CPU 0's check, in a fixed order, and fails
 * only on what must hold whatever the interleaving.
 */
#ifndef WORKLOADS_ADV_H
#define WORKLOADS_ADV_H

#include "alloc.h"
#include "helpers.h"
#include "string.h"

#define ADV_PAGE 4096UL
#define ADV_MAX_CPUS 16

/* adv_cpus fails the setup of a workload run on more CPUs than it keeps
 * results for. */
static inline int adv_cpus(struct wctx *w)
{
	if (w->ncpus > ADV_MAX_CPUS) {
		kprintf("%s: at most %d CPUs\n", w->argv[0], ADV_MAX_CPUS);
		return 1;
	}
	return 0;
}

/* adv_pages returns n zeroed, page-aligned pages of the heap (which the
 * identity map makes readable, writable and executable at CPL 3). */
static inline u8 *adv_pages(u64 n)
{
	return kalloc_or_die(n * ADV_PAGE, ADV_PAGE);
}

static inline void adv_cpuid(u32 leaf, u32 sub, u32 r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/*
 * adv_cpuid_bit returns bit of register reg (0 eax, 1 ebx, 2 ecx, 3 edx) of
 * CPUID leaf, sub. Where the host runs cpuid natively (AMD PVM, see
 * guest/ABI.md) leaf 1's EBX carries the APIC ID of whichever host CPU the
 * vCPU ran on, which differs between a recording and its replay: so only
 * the bit asked for is kept, in registers, and nothing of the rest is
 * left in memory (a stale stack slot is in the memory the replay checks).
 */
static inline int adv_cpuid_bit(u32 leaf, u32 sub, int reg, int bit)
{
	u32 a, b, c, d;
	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
	u32 v = reg == 0 ? a : reg == 1 ? b : reg == 2 ? c : d;
	int set = (int)((v >> bit) & 1);
	/* RBX is callee-saved: left as it is, the next call would push the
	 * APIC ID onto the stack. */
	asm volatile("xor %%ebx, %%ebx" : : "r"(set) : "rbx");
	return set;
}

/*
 * adv_touch reads one byte of every page of [p, p+n) so that a CPU has
 * taken its first-touch faults on them before the race starts (otherwise
 * the CPU that set the pages up is done before the others get going).
 */
static inline void adv_touch(const u8 *p, u64 n)
{
	for (u64 off = 0; off < n; off += ADV_PAGE)
		(void)*(volatile const u8 *)(p + off);
	if (n)
		(void)*(volatile const u8 *)(p + n - 1);
}

/*
 * adv_gate is a one-shot start line: every CPU adds itself to *arrived
 * and spins until all n have. It spins without pause (kernel/sync.c's
 * barrier uses pause, and a pausing spinner was seen to start hundreds
 * of microseconds after the CPU that released it).
 */
static inline void adv_gate(volatile u64 *arrived, u64 n)
{
	__atomic_add_fetch(arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(arrived, __ATOMIC_ACQUIRE) < n)
		;
}

/*
 * Writer and readers. Where one CPU writes and the others read, the
 * writer keeps writing until every reader has finished its fixed number
 * of reads (and at least min steps), so the reads race with writes
 * however the host schedules the vCPUs; how many steps it took is racy.
 */
static inline int adv_writer_more(u64 step, u64 min, volatile u64 *readers_left)
{
	return step <= min || __atomic_load_n(readers_left, __ATOMIC_ACQUIRE) != 0;
}

/*
 * A reader also goes on past its iterations until it has seen the value
 * change ADV_MIN_CHANGES times: on a loaded host the writer's vCPU may
 * not run at all while a short reader runs, and under a recorder every
 * change seen is a page handed over, which is the point.
 */
#define ADV_MIN_CHANGES 4

/*
 * Where every CPU does the same work, a CPU likewise goes on past its
 * quota while it has seen fewer than ADV_MIN_CHANGES hand-overs from
 * another CPU and some other CPU is still going (*done counts the CPUs
 * that stopped). Counts that must be exact then add up what each CPU did.
 */
static inline int adv_more(u64 i, u64 quota, u64 seen, volatile u64 *done, int ncpus)
{
	return i < quota ||
	       (seen < ADV_MIN_CHANGES && __atomic_load_n(done, __ATOMIC_ACQUIRE) < (u64)ncpus - 1);
}

static inline void adv_stop(volatile u64 *done)
{
	__atomic_add_fetch(done, 1, __ATOMIC_RELEASE);
}

/* Readers start once the writer has made its first step (*started set). */
static inline void adv_writer_started(volatile u64 *started)
{
	__atomic_store_n(started, 1, __ATOMIC_RELEASE);
}

static inline void adv_wait_writer(volatile u64 *started)
{
	while (!__atomic_load_n(started, __ATOMIC_ACQUIRE))
		;
}

static inline void adv_reader_done(volatile u64 *readers_left)
{
	__atomic_sub_fetch(readers_left, 1, __ATOMIC_RELEASE);
}

/* A per-CPU result slot, on a cache line of its own. */
struct adv_slot {
	u64 v[8];
} __attribute__((aligned(CACHE_LINE)));

#endif
