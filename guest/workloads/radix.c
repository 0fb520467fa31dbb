/*
 * radix: parallel LSD radix sort of pseudo-random 32-bit keys, 8 bits a
 * pass, as in SPLASH-2, repeated for a number of rounds with fresh keys.
 * Each pass: every CPU histograms its share of the keys, a barrier, every
 * CPU works out from all the histograms where its keys of each digit go
 * (a prefix sum), scatters them, a barrier. After each round every CPU
 * checks its share of the output is sorted and sums it, so that CPU 0 can
 * compare the checksums of everything sorted with those of everything
 * generated; CPU 0 also checks the last round alone, from scratch.
 */
#include "alloc.h"
#include "helpers.h"
#include "sync.h"

#define RADIX_BITS 8
#define RADIX_DIGITS (1 << RADIX_BITS)
#define RADIX_PASSES (32 / RADIX_BITS)
#define KEYS_PER_LINE (CACHE_LINE / sizeof(u32))

_Static_assert(RADIX_PASSES % 2 == 0, "the sorted keys must end up in keys[]");

/* One CPU's histogram: a multiple of 64 bytes, so CPUs never share a line. */
struct radix_hist {
	u64 count[RADIX_DIGITS];
};

/* What one CPU generated and found, over all rounds. */
struct radix_stats {
	u64 sum_in, mix_in, sum_out, mix_out;
	u64 unsorted;
} __attribute__((aligned(CACHE_LINE)));

static const char radix_usage[] = "[keys (default 2097152)] [rounds (default 24)]";
static u64 nkeys, rounds;
static u32 *keys, *spare;
static struct radix_hist *hist;
static struct radix_stats *stats;
static struct barrier radix_barrier;

static u32 radix_key(u64 round, u64 i)
{
	return (u32)(random_at(round << 32 | i) >> 32);
}

/* The multiset checksums: order-independent sums of the keys and a mix. */
static u64 key_mix(u32 key)
{
	return (u64)key * key + (((u64)key * 0x9e3779b97f4a7c15UL) >> 7);
}

static int radix_setup(struct wctx *w)
{
	args_at_most(w, 2, radix_usage);
	nkeys = arg_range(w, 1, 2097152, 1, 1UL << 32, radix_usage);
	rounds = arg_range(w, 2, 24, 1, 1000000, radix_usage);
	keys = kalloc_or_die(nkeys * sizeof(u32), CACHE_LINE);
	spare = kalloc_or_die(nkeys * sizeof(u32), CACHE_LINE);
	hist = kalloc_or_die((u64)w->ncpus * sizeof(*hist), CACHE_LINE);
	stats = kalloc_or_die((u64)w->ncpus * sizeof(*stats), CACHE_LINE);
	barrier_init(&radix_barrier, (u32)w->ncpus);
	return 0;
}

/* Sorts keys (into keys, the pass count being even) from this CPU's share. */
static void radix_sort(struct wctx *w, int cpu, u64 lo, u64 hi)
{
	u64 start[RADIX_DIGITS];
	u32 *src = keys, *dst = spare;

	for (int pass = 0; pass < RADIX_PASSES; pass++) {
		int shift = pass * RADIX_BITS;
		u64 *mine = hist[cpu].count;

		for (int d = 0; d < RADIX_DIGITS; d++)
			mine[d] = 0;
		for (u64 i = lo; i < hi; i++)
			mine[(src[i] >> shift) & (RADIX_DIGITS - 1)]++;
		barrier_wait(&radix_barrier);

		/* This CPU's keys of digit d go after every key of a smaller
		 * digit and after those of digit d from lower-numbered CPUs. */
		u64 at = 0;
		for (int d = 0; d < RADIX_DIGITS; d++) {
			for (int c = 0; c < w->ncpus; c++) {
				if (c == cpu)
					start[d] = at;
				at += hist[c].count[d];
			}
		}
		for (u64 i = lo; i < hi; i++) {
			u32 key = src[i];
			dst[start[(key >> shift) & (RADIX_DIGITS - 1)]++] = key;
		}
		barrier_wait(&radix_barrier);

		u32 *t = src;
		src = dst;
		dst = t;
	}
}

static void radix_run(struct wctx *w, int cpu)
{
	struct radix_stats *st = &stats[cpu];
	u64 lo, hi;

	split(nkeys, KEYS_PER_LINE, w->ncpus, cpu, &lo, &hi);
	for (u64 r = 0; r < rounds; r++) {
		for (u64 i = lo; i < hi; i++) {
			u32 key = radix_key(r, i);
			keys[i] = key;
			st->sum_in += key;
			st->mix_in += key_mix(key);
		}
		radix_sort(w, cpu, lo, hi);
		for (u64 i = lo; i < hi; i++) {
			st->sum_out += keys[i];
			st->mix_out += key_mix(keys[i]);
			if (i > 0 && keys[i - 1] > keys[i])
				st->unsorted++;
		}
		/* Others may still read our first key before we overwrite it. */
		barrier_wait(&radix_barrier);
	}
}

static int radix_check(struct wctx *w)
{
	u64 sum_in = 0, mix_in = 0, sum_out = 0, mix_out = 0, unsorted = 0;
	u64 last_sum_in = 0, last_mix_in = 0, last_sum = 0, last_mix = 0, last_unsorted = 0;

	for (int c = 0; c < w->ncpus; c++) {
		sum_in += stats[c].sum_in;
		mix_in += stats[c].mix_in;
		sum_out += stats[c].sum_out;
		mix_out += stats[c].mix_out;
		unsorted += stats[c].unsorted;
	}
	for (u64 i = 0; i < nkeys; i++) {
		u32 key = radix_key(rounds - 1, i);
		last_sum_in += key;
		last_mix_in += key_mix(key);
		last_sum += keys[i];
		last_mix += key_mix(keys[i]);
		if (i > 0 && keys[i - 1] > keys[i])
			last_unsorted++;
	}
	int bad = unsorted != 0 || sum_in != sum_out || mix_in != mix_out ||
		  last_unsorted != 0 || last_sum != last_sum_in || last_mix != last_mix_in;
	kprintf("radix: %lu keys, %lu rounds, %lu out of order, multisets %s, checksum %lx:%lx\n",
		nkeys, rounds, unsorted + last_unsorted, bad ? "DIFFER" : "kept", sum_out, mix_out);
	return bad;
}

const struct workload wl_radix = {
	.name = "radix",
	.usage = radix_usage,
	.setup = radix_setup,
	.run = radix_run,
	.check = radix_check,
};
