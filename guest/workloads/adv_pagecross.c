/*
 * adv-pagecross: instructions whose own bytes cross a 4 KiB page
 * boundary, fetched from pages another CPU is writing. Setup copies three
 * small functions into six heap pages (the identity map makes the heap
 * executable at CPL 3), each placed so that one instruction starts a few
 * bytes before the end of page 1, 3 or 5 and ends in the next page:
 *  f1: movabs $K, %rdx crosses from page 0 into page 1, then a
 *      RIP-relative load of data in page 1;
 *  f2: a RIP-relative load that itself straddles pages 2|3, of data in
 *      page 3;
 *  f3: a RIP-relative store of its argument that straddles pages 4|5,
 *      into page 5, and a load of it back (every reader stores to that
 *      word, so the load may see another reader's store).
 * CPU 0 keeps writing the data words in pages 1, 3 and another word of
 * page 5 until the other CPUs have called f1, f2 and f3 their number of
 * times. Every result must be something some CPU stored; which step's is
 * racy.
 */
#include "adv.h"

static const char adv_pagecross_usage[] = "[iterations (default 20000)]";

#define PC_K 0x1122334455667788UL

static u64 iterations;
static u8 *code;
static u64 (*f1)(void), (*f2)(void), (*f3)(u64);
static volatile u64 pagecross_arrived;	/* CPUs at the start line */
static volatile u64 readers_left, writer_started;
static u64 writes;	/* CPU 0's last step */
/* v[0] impossible results, v[1] results that changed, v[2] largest. */
static struct adv_slot results[ADV_MAX_CPUS];

/* At page 1 - 8: nop x3; movabs $PC_K, %rdx (10 bytes, crosses into
 * page 1); mov 2036(%rip), %rax (the word at page 1 + 2048); add %rdx,
 * %rax; ret. */
static const u8 f1_code[] = {
	0x90, 0x90, 0x90,
	0x48, 0xba, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	0x48, 0x8b, 0x05, 0xf4, 0x07, 0x00, 0x00,
	0x48, 0x01, 0xd0,
	0xc3,
};

/* At page 3 - 8: nop x5; mov 2044(%rip), %rax (7 bytes, crosses into
 * page 3; the word at page 3 + 2048); ret. */
static const u8 f2_code[] = {
	0x90, 0x90, 0x90, 0x90, 0x90,
	0x48, 0x8b, 0x05, 0xfc, 0x07, 0x00, 0x00,
	0xc3,
};

/* At page 5 - 8: nop x5; mov %rdi, 1020(%rip) (7 bytes, crosses into
 * page 5; the word at page 5 + 1024); mov 1013(%rip), %rax (the same
 * word); ret. */
static const u8 f3_code[] = {
	0x90, 0x90, 0x90, 0x90, 0x90,
	0x48, 0x89, 0x3d, 0xfc, 0x03, 0x00, 0x00,
	0x48, 0x8b, 0x05, 0xf5, 0x03, 0x00, 0x00,
	0xc3,
};

static volatile u64 *data(int page, u64 off) { return (volatile u64 *)(code + (u64)page * ADV_PAGE + off); }

static int adv_pagecross_setup(struct wctx *w)
{
	args_at_most(w, 1, adv_pagecross_usage);
	iterations = arg_range(w, 1, 20000, 0, 0xffffffffUL, adv_pagecross_usage);
	if (adv_cpus(w))
		return 1;
	code = adv_pages(6);
	memcpy(code + 1 * ADV_PAGE - 8, f1_code, sizeof(f1_code));
	memcpy(code + 3 * ADV_PAGE - 8, f2_code, sizeof(f2_code));
	memcpy(code + 5 * ADV_PAGE - 8, f3_code, sizeof(f3_code));
	f1 = (u64(*)(void))(code + 1 * ADV_PAGE - 8);
	f2 = (u64(*)(void))(code + 3 * ADV_PAGE - 8);
	f3 = (u64(*)(u64))(code + 5 * ADV_PAGE - 8);
	readers_left = (u64)w->ncpus - 1;
	return 0;
}

static void writer(void)
{
	u64 i;

	for (i = 1; adv_writer_more(i, 1, &readers_left); i++) {
		*data(1, 2048) = i;
		*data(3, 2048) = i * 3;
		*data(5, 2048) = i;
		if (i == 1)
			adv_writer_started(&writer_started);
	}
	writes = i - 1;
}

static void reader(struct wctx *w, int cpu)
{
	u64 max = 0, bad = 0, changes = 0, last = 0;

	adv_wait_writer(&writer_started);
	for (u64 i = 1; i <= iterations || changes < ADV_MIN_CHANGES; i++) {
		u64 a = f1() - PC_K, b = f2(), c = f3((u64)cpu << 32 | i);
		max = a > max ? a : max;
		max = b / 3 > max ? b / 3 : max;
		bad += b % 3 != 0;
		/* Every reader stores to that word: c is this reader's own
		 * store, exactly, or another reader's, whose count can run
		 * ahead of this one's. */
		bad += (c >> 32) == 0 || (c >> 32) >= (u64)w->ncpus || ((c >> 32) == (u64)cpu && (c & 0xffffffff) != i);
		changes += a != last;
		last = a;
	}
	results[cpu].v[0] = bad;
	results[cpu].v[1] = changes;
	results[cpu].v[2] = max;
	adv_reader_done(&readers_left);
}

static void adv_pagecross_run(struct wctx *w, int cpu)
{
	adv_touch(code, 6 * ADV_PAGE);
	adv_gate(&pagecross_arrived, (u64)w->ncpus);
	if (cpu == 0)
		writer();
	else
		reader(w, cpu);
}

static int adv_pagecross_check(struct wctx *w)
{
	u64 bad = 0, changes = 0, max = 0;

	for (int c = 1; c < w->ncpus; c++) {
		bad += results[c].v[0];
		changes += results[c].v[1];
		max = results[c].v[2] > max ? results[c].v[2] : max;
	}
	int final_ok = f1() - PC_K == writes && f2() == writes * 3;
	kprintf("adv-pagecross: %lu iterations per reader, final values %s, largest value read %s, %lu impossible "
		"results\n",
		iterations, final_ok ? "right" : "WRONG", max <= writes ? "possible" : "IMPOSSIBLE", bad);
	kprintf("adv-pagecross: race: writer took %lu steps, readers saw %lu changes\n", writes, changes);
	return !final_ok || bad != 0 || max > writes;
}

const struct workload wl_adv_pagecross = {
	.name = "adv-pagecross",
	.usage = adv_pagecross_usage,
	.setup = adv_pagecross_setup,
	.run = adv_pagecross_run,
	.check = adv_pagecross_check,
};
