/*
 * adv-rdtsc: rdtsc and rdtscp, which guest/ABI.md tells guests not to
 * use: where the host runs them natively their results are not in a
 * recording. Every CPU reads the counter in back-to-back pairs and
 * checks that it did not go backwards; the values themselves never leave
 * the asm (registers are cleared, nothing is stored), so in the default
 * mode the output and memory are the same whatever the counter said:
 * "rdtsc ok" means the instruction ran (a fault would have stopped the
 * guest) and counted forwards.
 *
 * Mode 1 leaks the counter on purpose: each CPU stores the low bits of
 * every reading to a shared page and sums their parities, and check
 * prints the sum. A replay matches that only if the recorder captured
 * the counter (for instance by trapping it with CR4.TSD).
 *
 * rdtscp runs when CPUID 0x80000001:EDX bit 27 shows it (the VMM masks it
 * where it can trap CPUID), or always with the third argument 2, never
 * with 0.
 */
#include "adv.h"

static const char adv_rdtsc_usage[] =
	"[samples per cpu (default 1000)] [mode: 0 no leak (default), 1 leak into memory and output] "
	"[rdtscp: 0 never, 1 if cpuid shows it (default), 2 always]";

static u64 samples, mode, rdtscp_mode;
static int run_rdtscp, cpuid_rdtscp;
static u8 *leak_page;
static volatile u64 rdtsc_arrived;	/* CPUs at the start line */
/* v[0] pairs that went backwards (rdtsc), v[1] (rdtscp), v[2] leaked
 * parity sum. */
static struct adv_slot results[ADV_MAX_CPUS];

/* rdtsc_pair: 1 when a second rdtsc read no less than a first; every
 * register that held a counter value is cleared before the asm ends. */
static int rdtsc_pair(void)
{
	u8 ok;
	asm volatile("rdtsc\n\t"
		     "shlq $32, %%rdx\n\t"
		     "orq %%rdx, %%rax\n\t"
		     "movq %%rax, %%r8\n\t"
		     "rdtsc\n\t"
		     "shlq $32, %%rdx\n\t"
		     "orq %%rdx, %%rax\n\t"
		     "cmpq %%r8, %%rax\n\t"
		     "setae %[ok]\n\t"
		     "xorl %%eax, %%eax\n\t"
		     "xorl %%edx, %%edx\n\t"
		     "xorl %%r8d, %%r8d"
		     : [ok] "=q"(ok) : : "rax", "rdx", "r8", "cc");
	return ok;
}

static int rdtscp_pair(void)
{
	u8 ok;
	asm volatile("rdtscp\n\t"
		     "shlq $32, %%rdx\n\t"
		     "orq %%rdx, %%rax\n\t"
		     "movq %%rax, %%r8\n\t"
		     "rdtscp\n\t"
		     "shlq $32, %%rdx\n\t"
		     "orq %%rdx, %%rax\n\t"
		     "cmpq %%r8, %%rax\n\t"
		     "setae %[ok]\n\t"
		     "xorl %%eax, %%eax\n\t"
		     "xorl %%edx, %%edx\n\t"
		     "xorl %%ecx, %%ecx\n\t"
		     "xorl %%r8d, %%r8d"
		     : [ok] "=q"(ok) : : "rax", "rcx", "rdx", "r8", "cc");
	return ok;
}

static u64 rdtsc_raw(void)
{
	u32 lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

static int adv_rdtsc_setup(struct wctx *w)
{
	args_at_most(w, 3, adv_rdtsc_usage);
	samples = arg_range(w, 1, 1000, 0, 1UL << 32, adv_rdtsc_usage);
	mode = arg_range(w, 2, 0, 0, 1, adv_rdtsc_usage);
	rdtscp_mode = arg_range(w, 3, 1, 0, 2, adv_rdtsc_usage);
	if (adv_cpus(w))
		return 1;
	cpuid_rdtscp = adv_cpuid_bit(0x80000001, 0, 3, 27);
	run_rdtscp = rdtscp_mode == 2 || (rdtscp_mode == 1 && cpuid_rdtscp);
	leak_page = adv_pages(1);
	return 0;
}

static void adv_rdtsc_run(struct wctx *w, int cpu)
{
	u64 r[3] = {0};	/* as results[cpu].v, kept local until the end */
	volatile u32 *leak = (volatile u32 *)(leak_page + 64 * (u64)cpu);

	(void)w;
	adv_gate(&rdtsc_arrived, (u64)w->ncpus);
	for (u64 i = 0; i < samples; i++) {
		r[0] += !rdtsc_pair();
		if (run_rdtscp)
			r[1] += !rdtscp_pair();
		if (mode == 1) {
			u64 t = rdtsc_raw();
			leak[i % 16] = (u32)t;
			r[2] += t & 1;
		}
	}
	for (int k = 0; k < 3; k++)
		results[cpu].v[k] = r[k];
}

static int adv_rdtsc_check(struct wctx *w)
{
	u64 back = 0, backp = 0, parity = 0;

	for (int c = 0; c < w->ncpus; c++) {
		back += results[c].v[0];
		backp += results[c].v[1];
		parity += results[c].v[2];
	}
	if (back == 0)
		kprintf("adv-rdtsc: rdtsc ok (%lu pairs per cpu)\n", samples);
	else
		kprintf("adv-rdtsc: rdtsc went backwards in %lu of %lu pairs\n", back, samples * (u64)w->ncpus);
	if (!run_rdtscp)
		kprintf("adv-rdtsc: rdtscp not run (cpuid shows it: %d, asked %lu)\n", cpuid_rdtscp, rdtscp_mode);
	else if (backp == 0)
		kprintf("adv-rdtsc: rdtscp ok (cpuid shows it: %d)\n", cpuid_rdtscp);
	else
		kprintf("adv-rdtsc: rdtscp went backwards in %lu pairs\n", backp);
	if (mode == 1)
		kprintf("adv-rdtsc: leak: %lu of %lu readings were odd\n", parity, samples * (u64)w->ncpus);
	return 0;
}

const struct workload wl_adv_rdtsc = {
	.name = "adv-rdtsc",
	.usage = adv_rdtsc_usage,
	.setup = adv_rdtsc_setup,
	.run = adv_rdtsc_run,
	.check = adv_rdtsc_check,
};
