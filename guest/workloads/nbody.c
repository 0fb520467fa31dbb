/*
 * nbody: direct O(n^2) gravitational n-body simulation with softening,
 * bodies split evenly across CPUs. Each step every CPU moves its bodies
 * (kick, drift), a barrier, then computes its bodies' accelerations from
 * every position, a barrier. CPU 0 checks that momentum is conserved and
 * recomputes the final accelerations of sampled bodies bit for bit.
 */
#include "alloc.h"
#include "helpers.h"
#include "sync.h"

#define NBODY_SAMPLES 16
#define SOFTENING 0.01		/* squared softening length */
#define TIME_STEP 0.001

static const char nbody_usage[] = "[bodies (default 4096)] [steps (default 20)]";
static u64 n, steps;
/* Structure of arrays: a CPU's share of each array is whole cache lines. */
static double *px, *py, *pz, *vx, *vy, *vz, *ax, *ay, *az, *mass;
static struct barrier nbody_barrier;

static double *nbody_array(void)
{
	return kalloc_or_die(n * sizeof(double), CACHE_LINE);
}

static int nbody_setup(struct wctx *w)
{
	args_at_most(w, 2, nbody_usage);
	n = arg_range(w, 1, 4096, 1, 1UL << 24, nbody_usage);
	steps = arg_range(w, 2, 20, 0, 1000000, nbody_usage);
	px = nbody_array();
	py = nbody_array();
	pz = nbody_array();
	vx = nbody_array();
	vy = nbody_array();
	vz = nbody_array();
	ax = nbody_array();
	ay = nbody_array();
	az = nbody_array();
	mass = nbody_array();
	barrier_init(&nbody_barrier, (u32)w->ncpus);
	return 0;
}

static double nbody_random(u64 i, int field)
{
	return unit_double(random_at(8 * i + (u64)field));
}

/* Body i starts in the unit cube with a small velocity and a mass ~1/n. */
static double initial_mass(u64 i)
{
	return (0.5 + nbody_random(i, 0)) / (double)n;
}

static double initial_velocity(u64 i, int axis)
{
	return 0.1 * (nbody_random(i, 1 + axis) - 0.5);
}

static void nbody_initial(u64 i)
{
	px[i] = nbody_random(i, 4);
	py[i] = nbody_random(i, 5);
	pz[i] = nbody_random(i, 6);
	vx[i] = initial_velocity(i, 0);
	vy[i] = initial_velocity(i, 1);
	vz[i] = initial_velocity(i, 2);
	mass[i] = initial_mass(i);
}

/* The acceleration of body i from every body (itself contributes 0). */
static void nbody_accel(u64 i, double *rx, double *ry, double *rz)
{
	double x = px[i], y = py[i], z = pz[i];
	double sx = 0, sy = 0, sz = 0;

	for (u64 j = 0; j < n; j++) {
		double dx = px[j] - x, dy = py[j] - y, dz = pz[j] - z;
		double r2 = dx * dx + dy * dy + dz * dz + SOFTENING;
		double f = mass[j] / (r2 * sqrt_d(r2));
		sx += f * dx;
		sy += f * dy;
		sz += f * dz;
	}
	*rx = sx;
	*ry = sy;
	*rz = sz;
}

static void nbody_run(struct wctx *w, int cpu)
{
	u64 lo, hi;

	split(n, CACHE_LINE / sizeof(double), w->ncpus, cpu, &lo, &hi);
	for (u64 i = lo; i < hi; i++)
		nbody_initial(i);
	barrier_wait(&nbody_barrier);
	for (u64 i = lo; i < hi; i++)
		nbody_accel(i, &ax[i], &ay[i], &az[i]);
	barrier_wait(&nbody_barrier);

	for (u64 s = 0; s < steps; s++) {
		for (u64 i = lo; i < hi; i++) {
			vx[i] += TIME_STEP * ax[i];
			vy[i] += TIME_STEP * ay[i];
			vz[i] += TIME_STEP * az[i];
			px[i] += TIME_STEP * vx[i];
			py[i] += TIME_STEP * vy[i];
			pz[i] += TIME_STEP * vz[i];
		}
		barrier_wait(&nbody_barrier);
		for (u64 i = lo; i < hi; i++)
			nbody_accel(i, &ax[i], &ay[i], &az[i]);
		barrier_wait(&nbody_barrier);
	}
}

static int nbody_check(struct wctx *w)
{
	double p0[3] = {0, 0, 0}, p1[3] = {0, 0, 0}, scale = 0;
	u64 digest = DIGEST_INIT;
	int bad = 0;

	(void)w;
	for (u64 i = 0; i < n; i++) {
		p1[0] += mass[i] * vx[i];
		p1[1] += mass[i] * vy[i];
		p1[2] += mass[i] * vz[i];
		scale += mass[i] * (fabs_d(vx[i]) + fabs_d(vy[i]) + fabs_d(vz[i]));
		digest = digest_add(digest, double_bits(px[i]));
		digest = digest_add(digest, double_bits(py[i]));
		digest = digest_add(digest, double_bits(pz[i]));
	}
	for (int s = 0; s < NBODY_SAMPLES; s++) {
		u64 i = s == 0 ? n - 1 : random_at(~(u64)s) % n;
		double x, y, z;
		nbody_accel(i, &x, &y, &z);
		if (x != ax[i] || y != ay[i] || z != az[i])
			bad++;
	}
	for (u64 i = 0; i < n; i++) {
		p0[0] += initial_mass(i) * initial_velocity(i, 0);
		p0[1] += initial_mass(i) * initial_velocity(i, 1);
		p0[2] += initial_mass(i) * initial_velocity(i, 2);
	}
	double drift = fabs_d(p1[0] - p0[0]) + fabs_d(p1[1] - p0[1]) + fabs_d(p1[2] - p0[2]);
	int drift_bad = !(drift <= 1e-9 * scale);
	kprintf("nbody: %lu bodies, %lu steps, momentum %s, %d of %d sampled accelerations wrong, digest %lx\n",
		n, steps, drift_bad ? "NOT conserved" : "conserved", bad, NBODY_SAMPLES, digest);
	return drift_bad || bad != 0;
}

const struct workload wl_nbody = {
	.name = "nbody",
	.usage = nbody_usage,
	.setup = nbody_setup,
	.run = nbody_run,
	.check = nbody_check,
};
