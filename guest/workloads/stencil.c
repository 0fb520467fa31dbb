/*
 * stencil: Jacobi iteration on an n x n grid of doubles with a zero
 * boundary; each sweep sets every interior point to the mean of its four
 * neighbours in the previous grid. Interior rows are split evenly across
 * CPUs, with a barrier after each sweep. The grid starts as a sum of two
 * eigenmodes sin(p pi i/(n-1)) sin(q pi j/(n-1)) of the sweep, each of
 * which a sweep only scales, by (cos(p pi/(n-1)) + cos(q pi/(n-1))) / 2;
 * so CPU 0 knows every point's final value and checks them all.
 */
#include "alloc.h"
#include "helpers.h"
#include "sync.h"

static const char stencil_usage[] = "[n (default 1024)] [sweeps (default 1500)]";
static u64 n, sweeps;
static double *grid[2];
/* sin(k pi i/(n-1)) for k = 1, 2, 3: the modes' rows and columns. */
static double *sin1, *sin2, *sin3;
static struct barrier stencil_barrier;

static double stencil_initial(u64 i, u64 j)
{
	if (i == 0 || j == 0 || i == n - 1 || j == n - 1)
		return 0;
	return sin1[i] * sin1[j] + 0.5 * sin2[i] * sin3[j];
}

static int stencil_setup(struct wctx *w)
{
	double c;

	args_at_most(w, 2, stencil_usage);
	n = arg_range(w, 1, 1024, 3, 32768, stencil_usage);
	sweeps = arg_range(w, 2, 1500, 0, 1000000, stencil_usage);
	grid[0] = kalloc_or_die(n * n * sizeof(double), CACHE_LINE);
	grid[1] = kalloc_or_die(n * n * sizeof(double), CACHE_LINE);
	sin1 = kalloc_or_die(n * sizeof(double), CACHE_LINE);
	sin2 = kalloc_or_die(n * sizeof(double), CACHE_LINE);
	sin3 = kalloc_or_die(n * sizeof(double), CACHE_LINE);
	for (u64 i = 0; i < n; i++) {
		/* k pi i/(n-1) is k i / (2(n-1)) of a turn. */
		sincos_turn(i, 2 * (n - 1), &sin1[i], &c);
		sincos_turn(2 * i, 2 * (n - 1), &sin2[i], &c);
		sincos_turn(3 * i, 2 * (n - 1), &sin3[i], &c);
	}
	barrier_init(&stencil_barrier, (u32)w->ncpus);
	return 0;
}

static void stencil_run(struct wctx *w, int cpu)
{
	u64 lo, hi;

	/* Interior rows 1 .. n-2; the first and last CPU also set up a
	 * boundary row. */
	split(n - 2, 1, w->ncpus, cpu, &lo, &hi);
	lo += 1;
	hi += 1;
	u64 init_lo = cpu == 0 ? 0 : lo, init_hi = cpu == w->ncpus - 1 ? n : hi;
	for (u64 i = init_lo; i < init_hi; i++) {
		for (u64 j = 0; j < n; j++) {
			double v = stencil_initial(i, j);
			grid[0][i * n + j] = v;
			grid[1][i * n + j] = v;
		}
	}
	barrier_wait(&stencil_barrier);

	for (u64 t = 0; t < sweeps; t++) {
		const double *old = grid[t % 2];
		double *new = grid[(t + 1) % 2];
		for (u64 i = lo; i < hi; i++) {
			const double *up = old + (i - 1) * n, *mid = old + i * n, *down = old + (i + 1) * n;
			double *out = new + i * n;
			for (u64 j = 1; j + 1 < n; j++)
				out[j] = 0.25 * (up[j] + down[j] + mid[j - 1] + mid[j + 1]);
		}
		barrier_wait(&stencil_barrier);
	}
}

static double power(double x, u64 e)
{
	double r = 1;
	for (; e; e >>= 1) {
		if (e & 1)
			r *= x;
		x *= x;
	}
	return r;
}

static int stencil_check(struct wctx *w)
{
	const double *result = grid[sweeps % 2];
	double s, c1, c2, c3, worst = 0;
	u64 digest = DIGEST_INIT, bad = 0;

	(void)w;
	sincos_turn(1, 2 * (n - 1), &s, &c1);
	sincos_turn(2, 2 * (n - 1), &s, &c2);
	sincos_turn(3, 2 * (n - 1), &s, &c3);
	double decay1 = power(c1, sweeps), decay2 = power((c2 + c3) / 2, sweeps);
	for (u64 i = 0; i < n; i++) {
		for (u64 j = 0; j < n; j++) {
			double want = 0, got = result[i * n + j];
			if (i != 0 && j != 0 && i != n - 1 && j != n - 1)
				want = decay1 * sin1[i] * sin1[j] + decay2 * 0.5 * sin2[i] * sin3[j];
			double err = fabs_d(got - want);
			if (!(err < 1e-9))
				bad++;
			if (err > worst)
				worst = err;
			digest = digest_add(digest, double_bits(got));
		}
	}
	kprintf("stencil: %lux%lu grid, %lu sweeps, %lu points wrong, worst error %lu e-18, digest %lx\n",
		n, n, sweeps, bad, (u64)(worst < 1 ? worst * 1e18 : 1e18), digest);
	return bad != 0;
}

const struct workload wl_stencil = {
	.name = "stencil",
	.usage = stencil_usage,
	.setup = stencil_setup,
	.run = stencil_run,
	.check = stencil_check,
};
