/*
 * lu: blocked in-place LU factorisation without pivoting of a diagonally
 * dominant n x n matrix, as in SPLASH-2. For each block of LU_BLOCK
 * columns: every CPU factors its own copy of the diagonal block, computes
 * its share of the columns of the U block to the right of it, a barrier;
 * then the CPUs finish the rows below the block, taking them one at a
 * time from a shared counter so that a slow vCPU does not hold the others
 * up: each row's part of L, then its trailing update, a barrier.
 * Afterwards L (unit diagonal, below it) and U (on and above it) share the
 * matrix; CPU 0 multiplies L * U for sampled entries and compares them
 * with the original matrix.
 */
#include "alloc.h"
#include "helpers.h"
#include "sync.h"

#define LU_BLOCK 64
#define LU_SAMPLES 256

/* The next row to take in each block step's second phase; one line each. */
struct lu_counter {
	u64 next;
} __attribute__((aligned(CACHE_LINE)));

static const char lu_usage[] = "[n (default 2000)]";
static u64 n;
static double *lu;
static struct lu_counter *next_row;
static double *diagonal;	/* each CPU's LU_BLOCK x LU_BLOCK copy */
static struct barrier lu_barrier;

/* The original matrix: entries in [0, 1), n + [0, 1) on the diagonal. */
static double lu_entry(u64 i, u64 j)
{
	double v = unit_double(random_at(i * n + j));
	return i == j ? v + (double)n : v;
}

static int lu_setup(struct wctx *w)
{
	args_at_most(w, 1, lu_usage);
	n = arg_range(w, 1, 2000, 1, 16384, lu_usage);
	lu = kalloc_or_die(n * n * sizeof(double), CACHE_LINE);
	next_row = kalloc_or_die((n / LU_BLOCK + 1) * sizeof(*next_row), CACHE_LINE);
	diagonal = kalloc_or_die((u64)w->ncpus * LU_BLOCK * LU_BLOCK * sizeof(double), CACHE_LINE);
	barrier_init(&lu_barrier, (u32)w->ncpus);
	return 0;
}

/* Factors the b x b block at (kb, kb) into d (row stride LU_BLOCK). */
static void factor_diagonal(double *d, u64 kb, u64 b)
{
	for (u64 r = 0; r < b; r++)
		for (u64 c = 0; c < b; c++)
			d[r * LU_BLOCK + c] = lu[(kb + r) * n + kb + c];
	for (u64 k = 0; k < b; k++) {
		for (u64 r = k + 1; r < b; r++) {
			double l = d[r * LU_BLOCK + k] / d[k * LU_BLOCK + k];
			d[r * LU_BLOCK + k] = l;
			for (u64 c = k + 1; c < b; c++)
				d[r * LU_BLOCK + c] -= l * d[k * LU_BLOCK + c];
		}
	}
}

/* U12 = L11^-1 A12 for columns lo .. hi-1 of the block's rows. */
static void solve_u_block(const double *d, u64 kb, u64 b, u64 lo, u64 hi)
{
	for (u64 k = 0; k < b; k++) {
		const double *urow = lu + (kb + k) * n;
		for (u64 r = k + 1; r < b; r++) {
			double *row = lu + (kb + r) * n;
			double l = d[r * LU_BLOCK + k];
			for (u64 j = lo; j < hi; j++)
				row[j] -= l * urow[j];
		}
	}
}

/* Row i below the block: its part of L21, then its trailing update. */
static void update_row(const double *d, u64 kb, u64 b, u64 i)
{
	double *row = lu + i * n;

	for (u64 k = 0; k < b; k++) {
		double l = row[kb + k] / d[k * LU_BLOCK + k];
		row[kb + k] = l;
		for (u64 c = k + 1; c < b; c++)
			row[kb + c] -= l * d[k * LU_BLOCK + c];
	}
	for (u64 k = 0; k < b; k++) {
		const double *urow = lu + (kb + k) * n;
		double l = row[kb + k];
		for (u64 j = kb + b; j < n; j++)
			row[j] -= l * urow[j];
	}
}

static void lu_run(struct wctx *w, int cpu)
{
	u64 ncpus = (u64)w->ncpus;
	double *d = diagonal + (u64)cpu * LU_BLOCK * LU_BLOCK;

	for (u64 i = (u64)cpu; i < n; i += ncpus)
		for (u64 j = 0; j < n; j++)
			lu[i * n + j] = lu_entry(i, j);
	barrier_wait(&lu_barrier);

	for (u64 kb = 0; kb < n; kb += LU_BLOCK) {
		u64 b = n - kb < LU_BLOCK ? n - kb : LU_BLOCK;
		u64 lo, hi;

		factor_diagonal(d, kb, b);
		split(n - kb - b, CACHE_LINE / sizeof(double), w->ncpus, cpu, &lo, &hi);
		solve_u_block(d, kb, b, kb + b + lo, kb + b + hi);
		barrier_wait(&lu_barrier);

		/* Nobody reads the shared diagonal block in this phase. */
		if (cpu == 0)
			for (u64 r = 0; r < b; r++)
				for (u64 c = 0; c < b; c++)
					lu[(kb + r) * n + kb + c] = d[r * LU_BLOCK + c];
		u64 *counter = &next_row[kb / LU_BLOCK].next;
		for (;;) {
			u64 i = kb + b + __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
			if (i >= n)
				break;
			update_row(d, kb, b, i);
		}
		barrier_wait(&lu_barrier);
	}
}

static int lu_check(struct wctx *w)
{
	u64 digest = DIGEST_INIT;
	double worst = 0;
	int bad = 0;

	(void)w;
	for (u64 i = 0; i < n * n; i++)
		digest = digest_add(digest, double_bits(lu[i]));
	for (u64 s = 0; s < LU_SAMPLES; s++) {
		u64 i = random_at(~s) % n, j = random_at(s << 32) % n;
		/* Always include the first and the last entry. */
		if (s < 2)
			i = j = s ? n - 1 : 0;
		u64 kmax = i < j ? i : j;
		double sum = 0;
		for (u64 k = 0; k <= kmax; k++) {
			double l = k == i ? 1.0 : lu[i * n + k];
			sum += l * lu[k * n + j];
		}
		double want = lu_entry(i, j);
		double err = fabs_d(sum - want) / (1.0 + fabs_d(want));
		if (err > worst)
			worst = err;
		if (!(err < 1e-9))
			bad++;
	}
	kprintf("lu: n=%lu, %d of %d sampled entries of L*U wrong, worst error %lu e-18, digest %lx\n",
		n, bad, LU_SAMPLES, (u64)(worst < 1 ? worst * 1e18 : 1e18), digest);
	return bad != 0;
}

const struct workload wl_lu = {
	.name = "lu",
	.usage = lu_usage,
	.setup = lu_setup,
	.run = lu_run,
	.check = lu_check,
};
