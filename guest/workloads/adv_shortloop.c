/*
 * adv-shortloop: long-running loops made only of short instructions that
 * touch no memory, whose pages other CPUs keep wanting, so a recorder
 * must stop a looping CPU in the middle of a loop and a replay must find
 * that exact point again (same registers, same iteration). The loops sit
 * in a heap page (executable at CPL 3) together with a data word:
 *  v1: xor %eax,%eax; 1: inc %rax; dec %rdi; jnz 1b; ret  (returns n)
 *  v2: mov %rdi,%rcx; 1: dec %rcx; jnz 1b; mov %rcx,%rax; ret  (0)
 *  v3: mov %rdi,%rcx; 1: loop 1b; mov %rcx,%rax; ret  (0)
 * Even CPUs are loopers: they store to a word of a page of their own,
 * then run the three loops over and over, n iterations a call, until the
 * writers are done (at least once). Odd CPUs are writers, starting once
 * their looper's word is set (with one CPU, CPU 0 is both, in
 * turn): each round they store to the data word in the loops' code page
 * (so the looper loses its right to fetch from it) and read the looper's
 * word (so the looper loses its write right), then spin a while in a
 * register-only delay. Each loop call must return its exact value; how
 * many calls the loopers made is racy.
 */
#include "adv.h"

static const char adv_shortloop_usage[] =
	"[iterations per loop call (default 200000)] [writer rounds (default 40)] [delay spins (default 20000)]";

static u64 iterations, rounds, delay;
static u8 *code, *looper_pages;
static u64 (*loops[3])(u64);
static volatile u64 writers_left;
static volatile u64 shortloop_arrived;	/* CPUs at the start line */
/* v[0] wrong loop results, v[1] loop calls made, v[2] looper word reads. */
static struct adv_slot results[ADV_MAX_CPUS];

static const u8 v1_code[] = {
	0x31, 0xc0,		/* xor %eax, %eax */
	0x48, 0xff, 0xc0,	/* 1: inc %rax */
	0x48, 0xff, 0xcf,	/* dec %rdi */
	0x75, 0xf8,		/* jnz 1b */
	0xc3,			/* ret */
};

static const u8 v2_code[] = {
	0x48, 0x89, 0xf9,	/* mov %rdi, %rcx */
	0x48, 0xff, 0xc9,	/* 1: dec %rcx */
	0x75, 0xfb,		/* jnz 1b */
	0x48, 0x89, 0xc8,	/* mov %rcx, %rax */
	0xc3,			/* ret */
};

static const u8 v3_code[] = {
	0x48, 0x89, 0xf9,	/* mov %rdi, %rcx */
	0xe2, 0xfe,		/* 1: loop 1b */
	0x48, 0x89, 0xc8,	/* mov %rcx, %rax */
	0xc3,			/* ret */
};

static volatile u64 *code_word(void) { return (volatile u64 *)(code + 2048); }
static volatile u64 *looper_word(int cpu) { return (volatile u64 *)(looper_pages + ADV_PAGE * (u64)cpu); }

static int adv_shortloop_setup(struct wctx *w)
{
	args_at_most(w, 3, adv_shortloop_usage);
	iterations = arg_range(w, 1, 200000, 1, 1UL << 40, adv_shortloop_usage);
	rounds = arg_range(w, 2, 40, 0, 1UL << 32, adv_shortloop_usage);
	delay = arg_range(w, 3, 20000, 0, 1UL << 40, adv_shortloop_usage);
	if (adv_cpus(w))
		return 1;
	code = adv_pages(1);
	looper_pages = adv_pages((u64)w->ncpus);
	memcpy(code, v1_code, sizeof(v1_code));
	memcpy(code + 64, v2_code, sizeof(v2_code));
	memcpy(code + 128, v3_code, sizeof(v3_code));
	loops[0] = (u64(*)(u64))code;
	loops[1] = (u64(*)(u64))(code + 64);
	loops[2] = (u64(*)(u64))(code + 128);
	writers_left = w->ncpus > 1 ? (u64)(w->ncpus / 2) : 1;
	return 0;
}

static void spin(u64 n)
{
	asm volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
}

static u64 call_loop(int k)
{
	u64 got = loops[k](iterations);
	return got != (k == 0 ? iterations : 0);
}

static void writer(int cpu, int looper)
{
	u64 seen = 0;

	/* Start once the looper is about to loop. */
	if (looper != cpu)
		while (*looper_word(looper) == 0)
			;
	for (u64 i = 1; i <= rounds; i++) {
		*code_word() = i;
		seen += *looper_word(looper) != 0;
		if (delay)
			spin(delay);
	}
	results[cpu].v[2] = seen;
	__atomic_sub_fetch(&writers_left, 1, __ATOMIC_SEQ_CST);
}

static void adv_shortloop_run(struct wctx *w, int cpu)
{
	u64 wrong = 0, calls = 0;

	adv_gate(&shortloop_arrived, (u64)w->ncpus);
	if (w->ncpus == 1) {
		for (u64 i = 0; i < rounds; i++)
			wrong += call_loop((int)(i % 3));
		writer(0, 0);
		results[0].v[0] = wrong;
		results[0].v[1] = rounds;
		return;
	}
	if (cpu & 1) {
		writer(cpu, cpu - 1);
		return;
	}
	*looper_word(cpu) = (u64)cpu + 1;
	/* A looper without a writer (odd CPU count, last CPU) loops rounds times. */
	int paired = cpu + 1 < w->ncpus;
	u64 k = 0;
	do {
		wrong += call_loop((int)(k % 3));
		calls++;
		k++;
	} while (paired ? __atomic_load_n(&writers_left, __ATOMIC_RELAXED) != 0 : k < rounds);
	results[cpu].v[0] = wrong;
	results[cpu].v[1] = calls;
}

static int adv_shortloop_check(struct wctx *w)
{
	u64 wrong = 0, calls = 0, reads = 0;

	for (int c = 0; c < w->ncpus; c++) {
		wrong += results[c].v[0];
		calls += results[c].v[1];
		reads += results[c].v[2];
	}
	kprintf("adv-shortloop: %lu iterations a call, %lu writer rounds, %lu wrong loop results\n", iterations,
		rounds, wrong);
	kprintf("adv-shortloop: race: loopers made %lu calls, writers saw the looper word set %lu times\n", calls,
		reads);
	return wrong != 0 || *code_word() != rounds;
}

const struct workload wl_adv_shortloop = {
	.name = "adv-shortloop",
	.usage = adv_shortloop_usage,
	.setup = adv_shortloop_setup,
	.run = adv_shortloop_run,
	.check = adv_shortloop_check,
};
