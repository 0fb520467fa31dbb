/*
 * Helpers the workloads share: checked arguments, splitting work between
 * CPUs, a deterministic pseudo-random generator and the little floating
 * point the freestanding guest lacks (no libm).
 */
#ifndef WORKLOADS_HELPERS_H
#define WORKLOADS_HELPERS_H

#include "console.h"
#include "hypercall.h"
#include "sync.h"
#include "workload.h"

/* arg_range is arg_u64 limited to lo..hi; outside that it exits 2 with usage. */
static inline u64 arg_range(struct wctx *w, int i, u64 def, u64 lo, u64 hi,
			    const char *usage)
{
	u64 v = arg_u64(w, i, def);
	if (v < lo || v > hi) {
		kprintf("%s: argument %d must be %lu..%lu; usage: %s %s\n",
			w->argv[0], i, lo, hi, w->argv[0], usage);
		hc_exit(2);
	}
	return v;
}

/* args_at_most exits 2 with usage when more than max arguments were given. */
static inline void args_at_most(struct wctx *w, int max, const char *usage)
{
	if (w->argc - 1 > max) {
		kprintf("%s: too many arguments; usage: %s %s\n", w->argv[0],
			w->argv[0], usage);
		hc_exit(2);
	}
}

/*
 * Waiting on another CPU. With more vCPUs than host cores the CPU being
 * waited for may not be running at all, and a spinning vCPU would burn its
 * whole host time slice, so a waiter spins a while and then halts until
 * woken. A sleeper is one CPU's "I am halted" flag, on a line of its own.
 */
#define SPINS_BEFORE_HALT 2000

struct sleeper {
	volatile u32 asleep;
} __attribute__((aligned(CACHE_LINE)));

/*
 * sleeper_wait is one turn of a loop waiting for *word to change from
 * seen. It spins, and every SPINS_BEFORE_HALT turns it marks the CPU
 * asleep and halts unless *word changed meanwhile (a Dekker pair with
 * sleeper_wake, so no wake is lost).
 */
static inline void sleeper_wait(struct sleeper *me, volatile u64 *word, u64 seen, u64 *spins)
{
	if (++*spins < SPINS_BEFORE_HALT) {
		cpu_relax();
		return;
	}
	*spins = 0;
	__atomic_store_n(&me->asleep, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == seen)
		hc_halt();
	__atomic_store_n(&me->asleep, 0, __ATOMIC_RELAXED);
}

/*
 * sleeper_wake wakes cpu, whose sleeper is s, if it halted; call it after
 * changing, with a __ATOMIC_SEQ_CST store, the word that cpu waits on.
 */
static inline void sleeper_wake(struct sleeper *s, int cpu)
{
	if (__atomic_load_n(&s->asleep, __ATOMIC_SEQ_CST))
		hc_wake(cpu);
}

/*
 * split gives cpu its share [*lo, *hi) of n items, in whole units of align
 * items (so that shares of a u64 or double array with align 8 never share
 * a cache line); shares differ by at most one unit.
 */
static inline void split(u64 n, u64 align, int ncpus, int cpu, u64 *lo, u64 *hi)
{
	u64 units = (n + align - 1) / align;
	*lo = units * (u64)cpu / (u64)ncpus * align;
	*hi = units * (u64)(cpu + 1) / (u64)ncpus * align;
	if (*lo > n)
		*lo = n;
	if (*hi > n)
		*hi = n;
}

/* xorshift64 advances *state (never 0) and returns 64 pseudo-random bits. */
static inline u64 xorshift64(u64 *state)
{
	u64 x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dUL;
}

/*
 * random_at returns the pseudo-random bits for element i of a data set:
 * xorshift64 started from a scrambled index, so any CPU can generate any
 * element and the data never depends on the CPU count.
 */
static inline u64 random_at(u64 i)
{
	u64 state = (i + 1) * 0x9e3779b97f4a7c15UL;
	xorshift64(&state);
	return xorshift64(&state);
}

/* unit_double turns 64 random bits into a double in [0, 1). */
static inline double unit_double(u64 bits)
{
	return (double)(bits >> 11) * (1.0 / 9007199254740992.0);
}

static inline double fabs_d(double x)
{
	return x < 0 ? -x : x;
}

/* sqrt_d is the SSE2 square root: exact rounding, no libm needed. */
static inline double sqrt_d(double x)
{
	double r;
	asm("sqrtsd %1, %0" : "=x"(r) : "x"(x));
	return r;
}

#define PI 3.14159265358979323846

/* Taylor series for |x| <= pi/4; the first term left out is below 1e-19. */
static inline double sin_small(double x)
{
	double x2 = x * x, s = 1;
	for (int k = 16; k >= 2; k -= 2)
		s = 1 - x2 / (double)(k * (k + 1)) * s;
	return x * s;
}

static inline double cos_small(double x)
{
	double x2 = x * x, c = 1;
	for (int k = 17; k >= 1; k -= 2)
		c = 1 - x2 / (double)(k * (k + 1)) * c;
	return c;
}

/*
 * sincos_turn sets *s and *c to the sine and cosine of k/n of a full turn
 * (2 pi k / n). The angle is folded into [0, pi/4] with exact integer
 * arithmetic, in units of a turn / 8n, before the Taylor series.
 */
static inline void sincos_turn(u64 k, u64 n, double *s, double *c)
{
	u64 a = 8 * (k % n);
	int negate_sin = 0, negate_cos = 0, swap = 0;

	if (a > 4 * n) {	/* past pi: sin(2 pi - x) = -sin x */
		a = 8 * n - a;
		negate_sin = 1;
	}
	if (a > 2 * n) {	/* past pi/2: cos(pi - x) = -cos x */
		a = 4 * n - a;
		negate_cos = 1;
	}
	if (a > n) {		/* past pi/4: sin(pi/2 - x) = cos x */
		a = 2 * n - a;
		swap = 1;
	}
	double x = PI * (double)a / (double)(4 * n);
	double sv = sin_small(x), cv = cos_small(x);
	if (swap) {
		double t = sv;
		sv = cv;
		cv = t;
	}
	*s = negate_sin ? -sv : sv;
	*c = negate_cos ? -cv : cv;
}

/* digest_add folds 64 bits into a running FNV-style digest of results. */
static inline u64 digest_add(u64 digest, u64 bits)
{
	return (digest ^ bits) * 0x100000001b3UL;
}

static inline u64 double_bits(double x)
{
	union {
		double d;
		u64 u;
	} v = {.d = x};
	return v.u;
}

#define DIGEST_INIT 0xcbf29ce484222325UL

#endif
