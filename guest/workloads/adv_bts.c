/*
 * adv-bts: bit-test instructions with a register bit offset. With a
 * register offset the byte touched is base + (offset >> 3) (in units of
 * the operand size), which may be pages away from the base operand and
 * before it: a decoder that takes the base operand for the address names
 * the wrong page.
 *
 * Three phases, every CPU at once, over 16 shared pages with the base
 * operand in the middle:
 *  1. locked: each CPU owns 4 bits of every qword (bits 4c..4c+3); for
 *     each step it picks a pseudo-random qword anywhere in the 16 pages
 *     and runs lock bts, btc, bts, btr on one of its bits, alternating
 *     64-, 32- and 16-bit operands (the 16-bit ones with their base 2 KiB
 *     past the qword and a negative offset), checking each carry flag;
 *     then lock btc on its fourth bit, whose final value is the parity of
 *     its toggles. Exact whatever the interleaving.
 *  2. plain: plain bts, btr, bts on the CPU's bits of another 8 pages.
 *     Other CPUs' read-modify-writes of the same qword may lose a set
 *     (racy); a bit nobody targeted must stay clear.
 *  3. a test-and-set lock: lock bts on a bit in the first page, a plain
 *     load and store of a counter in the last page, lock btr, at least the
 *     given number of times and until the lock changed hands a few times
 *     (or the other CPUs stopped); the counter
 *     must be exact; how often the lock was found taken, and how often it
 *     passed from one CPU to another (a last-owner word beside the
 *     counter), is racy.
 */
#include "adv.h"

static const char adv_bts_usage[] = "[steps per cpu (default 1000)] [lock acquisitions per cpu (default 500)]";

#define BTS_PAGES 16
#define BTS_QWORDS (BTS_PAGES * ADV_PAGE / 8)
#define BTS_BASEQ (BTS_QWORDS / 2 + 1)	/* base operand: qword index in the region */
#define PLAIN_PAGES 8
#define PLAIN_QWORDS (PLAIN_PAGES * ADV_PAGE / 8)
#define PLAIN_BASEQ (PLAIN_QWORDS / 2 + 3)

static u64 steps, acquisitions;
static u64 *region, *plain;
static volatile u64 bts_arrived;	/* CPUs at the start line */
static struct adv_slot results[ADV_MAX_CPUS];
static volatile u64 lock_done;
static u8 scratch[BTS_QWORDS / 8];	/* check: one bit per qword */

static int lbts64(void *base, s64 off)
{
	u8 cf;
	asm volatile("lock btsq %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbtr64(void *base, s64 off)
{
	u8 cf;
	asm volatile("lock btrq %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbtc64(void *base, s64 off)
{
	u8 cf;
	asm volatile("lock btcq %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbts32(void *base, s32 off)
{
	u8 cf;
	asm volatile("lock btsl %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbtr32(void *base, s32 off)
{
	u8 cf;
	asm volatile("lock btrl %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbtc32(void *base, s32 off)
{
	u8 cf;
	asm volatile("lock btcl %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbts16(void *base, short off)
{
	u8 cf;
	asm volatile("lock btsw %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbtr16(void *base, short off)
{
	u8 cf;
	asm volatile("lock btrw %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static int lbtc16(void *base, short off)
{
	u8 cf;
	asm volatile("lock btcw %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

static void pbts64(void *base, s64 off)
{
	asm volatile("btsq %[off], (%[base])" : : [off] "r"(off), [base] "r"(base) : "memory", "cc");
}

static void pbtr64(void *base, s64 off)
{
	asm volatile("btrq %[off], (%[base])" : : [off] "r"(off), [base] "r"(base) : "memory", "cc");
}

static void pbtc64(void *base, s64 off)
{
	asm volatile("btcq %[off], (%[base])" : : [off] "r"(off), [base] "r"(base) : "memory", "cc");
}

static int bt64(void *base, s64 off)
{
	u8 cf;
	asm volatile("btq %[off], (%[base])\n\tsetc %[cf]"
		     : [cf] "=q"(cf) : [off] "r"(off), [base] "r"(base) : "memory", "cc");
	return cf;
}

/* The qword of step i, relative to the base operand (negative: before it). */
static s64 step_qword(u64 i, int cpu)
{
	/* The first and last two qwords are phase 3's. */
	return (s64)(random_at(i * ADV_MAX_CPUS + (u64)cpu) % (BTS_QWORDS - 3)) + 1 - BTS_BASEQ;
}

static s64 plain_qword(u64 i, int cpu)
{
	return (s64)(random_at((i * ADV_MAX_CPUS + (u64)cpu) ^ 0x5bd1e995) % PLAIN_QWORDS) - PLAIN_BASEQ;
}

/*
 * One locked operation op (0 bts, 1 btr, 2 btc) on bit b of the qword q
 * qwords from base, with a 64-, 32- or 16-bit operand (size 0, 1, 2).
 */
static int locked_op(int op, int size, u64 *base, s64 q, int b)
{
	s64 off = q * 64 + b;
	/* 16-bit: the base operand sits 2 KiB past the qword, the offset is
	 * negative and the word touched is the one holding bit b. */
	u8 *base16 = (u8 *)(base + q) + 2048;
	short off16 = (short)(b - 2048 * 8);

	switch (size * 3 + op) {
	case 0: return lbts64(base, off);
	case 1: return lbtr64(base, off);
	case 2: return lbtc64(base, off);
	case 3: return lbts32(base, (s32)off);
	case 4: return lbtr32(base, (s32)off);
	case 5: return lbtc32(base, (s32)off);
	case 6: return lbts16(base16, off16);
	case 7: return lbtr16(base16, off16);
	default: return lbtc16(base16, off16);
	}
}

static int adv_bts_setup(struct wctx *w)
{
	args_at_most(w, 2, adv_bts_usage);
	steps = arg_range(w, 1, 1000, 0, 1UL << 32, adv_bts_usage);
	acquisitions = arg_range(w, 2, 500, 0, 1UL << 32, adv_bts_usage);
	if (adv_cpus(w))
		return 1;
	region = (u64 *)adv_pages(BTS_PAGES);
	plain = (u64 *)adv_pages(PLAIN_PAGES);
	return 0;
}

static void adv_bts_run(struct wctx *w, int cpu)
{
	u64 *base = region + BTS_BASEQ, *pbase = plain + PLAIN_BASEQ;
	u64 bad = 0, taken = 0, handoffs = 0;

	(void)w;
	adv_touch((u8 *)region, BTS_PAGES * ADV_PAGE);
	adv_touch((u8 *)plain, PLAIN_PAGES * ADV_PAGE);
	adv_gate(&bts_arrived, (u64)w->ncpus);
	/* 1: locked, with the carry flag checked. */
	for (u64 i = 0; i < steps; i++) {
		s64 q = step_qword(i, cpu);
		int size = (int)(i % 3), b = cpu * 4 + (int)(i % 3);
		bad += locked_op(0, size, base, q, b) != 0;
		bad += locked_op(2, (size + 1) % 3, base, q, b) != 1;
		bad += locked_op(0, (size + 2) % 3, base, q, b) != 0;
		bad += locked_op(1, size, base, q, b) != 1;
		locked_op(2, (size + 1) % 3, base, q, cpu * 4 + 3);
	}
	/* 2: plain read-modify-writes. */
	for (u64 i = 0; i < steps; i++) {
		s64 off = plain_qword(i, cpu) * 64 + cpu * 4 + (int)(i % 4);
		pbts64(pbase, off);
		pbtc64(pbase, off);
		pbtr64(pbase, off);
		pbts64(pbase, off);
		bt64(pbase, off);
	}
	/* 3: a test-and-set lock at the far end before the base, a counter
	 * at the far end after it. */
	s64 lock_off = -(s64)BTS_BASEQ * 64 + 63;	/* bit 63 of region[0] */
	volatile u64 *counter = region + BTS_QWORDS - 1;
	u64 i;
	for (i = 0; adv_more(i, acquisitions, handoffs, &lock_done, w->ncpus); i++) {
		while (lbts64(base, lock_off)) {
			taken++;
			while (bt64(base, lock_off))
				cpu_relax();
		}
		*counter = *counter + 1;
		handoffs += counter[-1] != (u64)cpu + 1;
		counter[-1] = (u64)cpu + 1;
		lbtr64(base, lock_off);
	}
	adv_stop(&lock_done);
	results[cpu].v[0] = bad;
	results[cpu].v[3] = i;
	results[cpu].v[1] = taken;
	results[cpu].v[2] = handoffs;
}

static int adv_bts_check(struct wctx *w)
{
	int fail = 0;
	u64 bad = 0, wrong_parity = 0, lost = 0, stray = 0, targeted = 0;

	for (int c = 0; c < w->ncpus; c++) {
		bad += results[c].v[0];
		/* Parity of the fourth bit, replayed from the step sequence. */
		memset(scratch, 0, sizeof(scratch));
		for (u64 i = 0; i < steps; i++) {
			u64 q = (u64)(step_qword(i, c) + BTS_BASEQ);
			scratch[q / 8] ^= (u8)(1 << (q % 8));
		}
		for (u64 q = 0; q < BTS_QWORDS; q++) {
			int want = (scratch[q / 8] >> (q % 8)) & 1;
			u64 word = region[q];
			if (q == 0 || q >= BTS_QWORDS - 2)
				continue;
			if ((int)((word >> (c * 4 + 3)) & 1) != want)
				wrong_parity++;
			if ((word >> (c * 4)) & 7)
				wrong_parity++; /* bits 0-2 end clear */
		}
	}
	/* Plain phase: every bit targeted should be set, none other. */
	static u8 want_plain[PLAIN_QWORDS * 8];
	memset(want_plain, 0, sizeof(want_plain));
	for (int c = 0; c < w->ncpus; c++)
		for (u64 i = 0; i < steps; i++) {
			u64 bit = (u64)((plain_qword(i, c) + PLAIN_BASEQ) * 64) + (u64)(c * 4) + i % 4;
			want_plain[bit / 8] |= (u8)(1 << (bit % 8));
		}
	for (u64 bit = 0; bit < PLAIN_QWORDS * 64; bit++) {
		int want = (want_plain[bit / 8] >> (bit % 8)) & 1;
		int got = (int)((plain[bit / 64] >> (bit % 64)) & 1);
		targeted += want;
		lost += want && !got;
		stray += !want && got;
	}
	u64 count = region[BTS_QWORDS - 1], lockword = region[0];
	u64 want_count = 0, taken = 0, handoffs = 0;
	for (int c = 0; c < w->ncpus; c++) {
		want_count += results[c].v[3];
		taken += results[c].v[1];
		handoffs += results[c].v[2];
	}

	kprintf("adv-bts: locked: %lu steps per cpu, %lu wrong carry flags, %lu wrong bits\n", steps, bad,
		wrong_parity);
	kprintf("adv-bts: plain: %lu of %lu bits set, %lu lost, %lu stray\n", targeted - lost, targeted, lost,
		stray);
	kprintf("adv-bts: lock: counter %s, lock bit %lu\n", count == want_count ? "exact" : "WRONG", lockword >> 63);
	kprintf("adv-bts: race: %lu acquisitions, lock found taken %lu times, passed between cpus %lu times\n",
		want_count, taken, handoffs);
	if (bad || wrong_parity || stray || count != want_count || (lockword >> 63))
		fail = 1;
	return fail;
}

const struct workload wl_adv_bts = {
	.name = "adv-bts",
	.usage = adv_bts_usage,
	.setup = adv_bts_setup,
	.run = adv_bts_run,
	.check = adv_bts_check,
};
