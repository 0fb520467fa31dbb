/*
 * matmul: C = A * B for n x n matrices of doubles. The CPUs fill A and B
 * (an even share of the rows each), a barrier, then compute C taking
 * chunks of MATMUL_CHUNK rows from a shared counter, so that a vCPU the
 * host slows down does not hold the others up. The entries are small
 * integers, so every sum is exact whatever the order: CPU 0 checks the
 * total of C against the column sums of A times the row sums of B, and
 * recomputes sampled entries.
 */
#include "alloc.h"
#include "bisect_site.h"
#include "helpers.h"
#include "sync.h"

#define MATMUL_SAMPLES 64
/* C is computed a tile of B at a time, KBLOCK rows by JBLOCK columns of
 * B (128 KiB), which stays in the cache while a chunk of rows uses it. */
#define MATMUL_KBLOCK 64
#define MATMUL_JBLOCK 256
#define MATMUL_CHUNK 16		/* rows of C a CPU takes at a time */

/* The next row of C to hand out. */
struct matmul_counter {
	u64 row;
} __attribute__((aligned(CACHE_LINE)));

static const char matmul_usage[] = "[n (default 1280)]";
static u64 n;
static double *ma, *mb, *mc;
static struct barrier matmul_barrier;
static struct matmul_counter next_chunk;

/* An entry of A (which 0) or B (which 1): an integer in -8..7. */
static double matmul_entry(int which, u64 i, u64 j)
{
	u64 bits = random_at(((u64)which * n + i) * n + j);
	return (double)((s64)(bits >> 60) - 8);
}

static int matmul_setup(struct wctx *w)
{
	args_at_most(w, 1, matmul_usage);
	n = arg_range(w, 1, 1280, 1, 8192, matmul_usage);
	ma = kalloc_or_die(n * n * sizeof(double), CACHE_LINE);
	mb = kalloc_or_die(n * n * sizeof(double), CACHE_LINE);
	mc = kalloc_or_die(n * n * sizeof(double), CACHE_LINE);
	barrier_init(&matmul_barrier, (u32)w->ncpus);
	next_chunk.row = 0;
	return 0;
}

/* Rows first .. last-1 of C, a tile of B at a time. */
static void matmul_rows(u64 first, u64 last)
{
	for (u64 kk = 0; kk < n; kk += MATMUL_KBLOCK) {
		u64 kend = kk + MATMUL_KBLOCK < n ? kk + MATMUL_KBLOCK : n;
		for (u64 jj = 0; jj < n; jj += MATMUL_JBLOCK) {
			u64 jend = jj + MATMUL_JBLOCK < n ? jj + MATMUL_JBLOCK : n;
			for (u64 i = first; i < last; i++) {
				double *crow = mc + i * n;
				for (u64 k = kk; k < kend; k++) {
					double aik = ma[i * n + k];
					const double *brow = mb + k * n;
					for (u64 j = jj; j < jend; j++)
						crow[j] += aik * brow[j];
				}
			}
		}
	}
}

static void matmul_run(struct wctx *w, int cpu)
{
	u64 lo, hi;

	split(n, 1, w->ncpus, cpu, &lo, &hi);
	for (u64 i = lo; i < hi; i++) {
		for (u64 j = 0; j < n; j++) {
			ma[i * n + j] = matmul_entry(0, i, j);
			mb[i * n + j] = matmul_entry(1, i, j);
		}
	}
	if (lo < hi)
		ma[lo * n] = (double)(s64)bisect_site((u64)(s64)ma[lo * n]);
	barrier_wait(&matmul_barrier);

	for (;;) {
		u64 first = __atomic_fetch_add(&next_chunk.row, MATMUL_CHUNK, __ATOMIC_RELAXED);
		if (first >= n)
			break;
		matmul_rows(first, first + MATMUL_CHUNK < n ? first + MATMUL_CHUNK : n);
	}
}

static int matmul_check(struct wctx *w)
{
	double total = 0, want = 0;
	u64 digest = DIGEST_INIT;
	int bad = 0;

	(void)w;
	for (u64 i = 0; i < n * n; i++) {
		total += mc[i];
		digest = digest_add(digest, double_bits(mc[i]));
	}
	for (u64 k = 0; k < n; k++) {
		double acol = 0, brow = 0;
		for (u64 i = 0; i < n; i++) {
			acol += matmul_entry(0, i, k);
			brow += matmul_entry(1, k, i);
		}
		want += acol * brow;
	}
	for (u64 s = 0; s < MATMUL_SAMPLES; s++) {
		u64 i = random_at(~s) % n, j = random_at(s << 32) % n;
		double sum = 0;
		for (u64 k = 0; k < n; k++)
			sum += matmul_entry(0, i, k) * matmul_entry(1, k, j);
		if (sum != mc[i * n + j])
			bad++;
	}
	kprintf("matmul: n=%lu, sum of C %ld (want %ld), %d of %d sampled entries wrong, digest %lx\n",
		n, (s64)total, (s64)want, bad, MATMUL_SAMPLES, digest);
	return total != want || bad != 0;
}

const struct workload wl_matmul = {
	.name = "matmul",
	.usage = matmul_usage,
	.setup = matmul_setup,
	.run = matmul_run,
	.check = matmul_check,
};
