/*
 * cpuid: checks that CPUID hides the instructions that read
 * non-deterministic state (RDRAND, RDSEED, RDTSCP, RDPID), which a
 * recorded guest must not use. Where the host cannot trap CPUID (the
 * signature leaf is not the VMM's, see ABI.md) the guest reads the
 * host's values, which differ between CPUs and runs: it then says so and
 * prints nothing else.
 */
#include "console.h"
#include "workload.h"

static void cpuid(u32 leaf, u32 sub, u32 r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static int visible;

/* answered_by_vmm: the hypervisor leaf carries the VMM's signature. */
static int answered_by_vmm(void)
{
	u32 r[4];
	cpuid(0x40000000, 0, r);
	return r[1] == 0x77657263 && r[2] == 0x72636d76 && r[3] == 0x6d767765;
}

static void cpuid_run(struct wctx *w, int cpu)
{
	(void)w;
	u32 l1[4], l7[4], e1[4];
	if (!answered_by_vmm()) {
		if (cpu == 0)
			kprintf("cpuid: the host answers CPUID natively; masking cannot be checked here\n");
		return;
	}
	cpuid(1, 0, l1);
	cpuid(7, 0, l7);
	cpuid(0x80000001, 0, e1);
	int rdrand = (l1[2] >> 30) & 1, rdseed = (l7[1] >> 18) & 1;
	int rdpid = (l7[2] >> 22) & 1, rdtscp = (e1[3] >> 27) & 1;
	kprintf("cpu %d: rdrand %d rdseed %d rdpid %d rdtscp %d apic-id %u\n", cpu, rdrand, rdseed,
		rdpid, rdtscp, l1[1] >> 24);
	if (rdrand | rdseed | rdpid | rdtscp)
		__atomic_store_n(&visible, 1, __ATOMIC_RELAXED);
}

static int cpuid_check(struct wctx *w)
{
	(void)w;
	return visible;
}

const struct workload wl_cpuid = {
	.name = "cpuid",
	.usage = "",
	.run = cpuid_run,
	.check = cpuid_check,
};
