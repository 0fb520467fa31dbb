/*
 * fft: repeated radix-2 FFTs of 2^m complex points, each scaled by
 * 1/sqrt(n) so the transform F is unitary. The CPUs share the bit-reversal
 * permutation (from one buffer into the other) and every stage's n/2
 * butterflies; stages that combine points of different CPUs' shares wait
 * at a barrier first, and every transform ends with one. The twiddle
 * factors come from the Taylor-series sin/cos in helpers.h.
 * F^4 is the identity and F^2 reverses the points (x[j] -> x[-j mod n]),
 * so the result of t transforms is known: CPU 0 checks Parseval, and
 * compares every point with the input (t even) or sampled bins with a
 * direct DFT of the input (t odd).
 */
#include "alloc.h"
#include "helpers.h"
#include "sync.h"

#define FFT_SAMPLES 6
#define DFT_EXACT_EVERY 256
#define COMPLEX_PER_LINE (CACHE_LINE / sizeof(struct complex))

struct complex {
	double re, im;
};

static const char fft_usage[] = "[log2 points (default 18)] [transforms (default 101)]";
static u64 m, n, transforms;
/* Stages from this one on pair points of different CPUs' shares. */
static u64 shared_from;
/* The points: each transform permutes buf[t % 2] into buf[(t + 1) % 2]
 * and transforms it there; data is where the last transform left them. */
static struct complex *buf[2], *data, *twiddle;
static u32 *reversed;
static struct barrier fft_barrier;

static struct complex fft_input(u64 i)
{
	struct complex x = {
		unit_double(random_at(2 * i)) - 0.5,
		unit_double(random_at(2 * i + 1)) - 0.5,
	};
	return x;
}

/* exp(-2 pi i k / n), straight from the Taylor series. */
static struct complex exp_turn(u64 k)
{
	struct complex w;
	double s;

	sincos_turn(k, n, &s, &w.re);
	w.im = -s;
	return w;
}

static struct complex complex_mul(struct complex a, struct complex b)
{
	struct complex r = {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
	return r;
}

static int fft_setup(struct wctx *w)
{
	args_at_most(w, 2, fft_usage);
	m = arg_range(w, 1, 18, 1, 26, fft_usage);
	transforms = arg_range(w, 2, 101, 0, 1000000, fft_usage);
	n = 1UL << m;
	buf[0] = kalloc_or_die(n * sizeof(struct complex), CACHE_LINE);
	buf[1] = kalloc_or_die(n * sizeof(struct complex), CACHE_LINE);
	data = buf[transforms % 2];
	twiddle = kalloc_or_die(n / 2 * sizeof(struct complex), CACHE_LINE);
	reversed = kalloc_or_die(n * sizeof(u32), CACHE_LINE);
	barrier_init(&fft_barrier, (u32)w->ncpus);

	/* A stage with half-span h keeps each CPU within its own points when
	 * every CPU's share of butterflies starts and ends at a multiple of h. */
	shared_from = m;
	for (int c = 0; c < w->ncpus; c++) {
		u64 lo, hi, log = 0;
		split(n / 2, COMPLEX_PER_LINE, w->ncpus, c, &lo, &hi);
		while (log < m && lo % (1UL << log) == 0 && hi % (1UL << log) == 0)
			log++;
		if (log < shared_from)
			shared_from = log;
	}
	return 0;
}

static void fft_prepare(struct wctx *w, int cpu)
{
	u64 lo, hi;

	split(n, COMPLEX_PER_LINE, w->ncpus, cpu, &lo, &hi);
	for (u64 i = lo; i < hi; i++) {
		u64 r = 0;
		for (u64 b = 0; b < m; b++)
			r |= ((i >> b) & 1) << (m - 1 - b);
		reversed[i] = (u32)r;
		buf[0][i] = fft_input(i);
	}
	split(n / 2, COMPLEX_PER_LINE, w->ncpus, cpu, &lo, &hi);
	for (u64 k = lo; k < hi; k++) {
		double s, c;
		sincos_turn(k, n, &s, &c);
		twiddle[k].re = c;
		twiddle[k].im = -s;
	}
}

/* One unitary transform of from into to; the caller has passed a barrier
 * since the last. */
static void fft_transform(struct wctx *w, int cpu, const struct complex *from,
			  struct complex *to)
{
	double scale = 1.0 / sqrt_d((double)n);
	u64 lo, hi;

	/* Each CPU's share of the butterflies of a stage with half-span h
	 * touches points 2lo .. 2hi-1 when lo and hi are multiples of h,
	 * which they always are for the first stage: the CPU permutes those
	 * points itself, and needs no barrier before the stages that stay
	 * within them. */
	split(n / 2, COMPLEX_PER_LINE, w->ncpus, cpu, &lo, &hi);
	for (u64 i = 2 * lo; i < 2 * hi; i++) {
		struct complex x = from[reversed[i]];
		to[i].re = x.re * scale;
		to[i].im = x.im * scale;
	}
	for (u64 log = 0; log < m; log++) {
		u64 half = 1UL << log, stride = n >> (log + 1);
		if (log >= shared_from)
			barrier_wait(&fft_barrier);
		for (u64 b = lo; b < hi; b++) {
			u64 j = b & (half - 1);
			u64 i1 = ((b >> log) << (log + 1)) + j, i2 = i1 + half;
			struct complex tw = twiddle[j * stride];
			struct complex x = to[i1], y = to[i2];
			double tre = tw.re * y.re - tw.im * y.im;
			double tim = tw.re * y.im + tw.im * y.re;
			to[i1].re = x.re + tre;
			to[i1].im = x.im + tim;
			to[i2].re = x.re - tre;
			to[i2].im = x.im - tim;
		}
	}
	barrier_wait(&fft_barrier);
}

static void fft_run(struct wctx *w, int cpu)
{
	fft_prepare(w, cpu);
	barrier_wait(&fft_barrier);
	for (u64 t = 0; t < transforms; t++)
		fft_transform(w, cpu, buf[t % 2], buf[(t + 1) % 2]);
}

static int fft_check(struct wctx *w)
{
	/* After t transforms, point k holds F^(t%2) x at k, or at -k when
	 * t % 4 is 2 or 3. */
	int mirrored = transforms % 4 >= 2, odd = transforms % 2;
	double energy_in = 0, energy_out = 0, worst = 0;
	u64 bin[FFT_SAMPLES];
	struct complex dft[FFT_SAMPLES], step[FFT_SAMPLES], rot[FFT_SAMPLES];
	u64 digest = DIGEST_INIT;
	int bad = 0;

	(void)w;
	for (int s = 0; s < FFT_SAMPLES; s++) {
		bin[s] = s < 2 ? (u64)s * (n - 1) : random_at(~(u64)s) % n;
		step[s] = exp_turn(bin[s]);
		dft[s].re = dft[s].im = 0;
	}
	for (u64 j = 0; j < n; j++) {
		struct complex x = fft_input(j), y = data[j];
		energy_in += x.re * x.re + x.im * x.im;
		energy_out += y.re * y.re + y.im * y.im;
		digest = digest_add(digest, double_bits(y.re));
		digest = digest_add(digest, double_bits(y.im));
		if (odd) {
			for (int s = 0; s < FFT_SAMPLES; s++) {
				/* exp(-2 pi i bin j / n), independent of the
				 * twiddle table: exact every DFT_EXACT_EVERY
				 * points, rotated by a step in between. */
				if (j % DFT_EXACT_EVERY == 0)
					rot[s] = exp_turn(bin[s] * j % n);
				else
					rot[s] = complex_mul(rot[s], step[s]);
				struct complex t = complex_mul(rot[s], x);
				dft[s].re += t.re;
				dft[s].im += t.im;
			}
		} else {
			struct complex want = fft_input(mirrored ? (n - j) % n : j);
			double err = fabs_d(y.re - want.re) + fabs_d(y.im - want.im);
			if (!(err < 1e-9))
				bad++;
			if (err > worst)
				worst = err;
		}
	}
	if (odd) {
		double scale = 1.0 / sqrt_d((double)n);
		for (int s = 0; s < FFT_SAMPLES; s++) {
			struct complex y = data[mirrored ? (n - bin[s]) % n : bin[s]];
			double err = fabs_d(y.re - dft[s].re * scale) + fabs_d(y.im - dft[s].im * scale);
			if (!(err < 1e-9))
				bad++;
			if (err > worst)
				worst = err;
		}
	}
	int parseval = fabs_d(energy_out - energy_in) < 1e-9 * energy_in;
	kprintf("fft: %lu points, %lu transforms, %d %s wrong, Parseval %s, worst error %lu e-18, digest %lx\n",
		n, transforms, bad, odd ? "sampled bins" : "points", parseval ? "holds" : "FAILS",
		(u64)(worst < 1 ? worst * 1e18 : 1e18), digest);
	return bad != 0 || !parseval;
}

const struct workload wl_fft = {
	.name = "fft",
	.usage = fft_usage,
	.setup = fft_setup,
	.run = fft_run,
	.check = fft_check,
};
