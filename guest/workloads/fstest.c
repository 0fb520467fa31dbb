/*
 * fstest [mono|scalable] [FIRST-LAST] [concurrent]: runs the commutativity
 * tests of the file vmm loaded into the input region (vmm run --tests
 * FILE) on the kernel under test. For each test, CPU 0 resets the kernel
 * and builds the setup; then call A runs on CPU 0 and call B on CPU 1,
 * each inside a test region whose id is the test id, one after the other
 * (A first, as sv6's fstest does) or, with `concurrent`, at the same time.
 * CPU 0 checks both results, prints a line per failing test and a summary.
 * With one vCPU, CPU 0 makes both calls; CPUs past 1 sit the run out.
 * `results` also prints every call's results (tf_print); plant=stat turns
 * on a planted sharing bug (KUT_PLANT_STAT, kut.h).
 */
#include "fstest.h"
#include "helpers.h"
#include "string.h"

static const char fstest_usage[] = "[mono|scalable] [FIRST-LAST] [concurrent] [results] [plant=stat] (needs vmm run --tests FILE)";

/* One unit buffer per calling CPU, labelled for reports. */
struct unit_buf {
	u8 b[KUT_UNIT];
};

/* One call's results, on a line of its own: the CPUs write their calls'
 * results inside their test regions, which must share nothing of the
 * harness's, even by cache line. */
struct call_result {
	struct tf_fields f;
} __attribute__((aligned(CACHE_LINE)));

/* A word one CPU writes and the other waits on, on a line of its own. */
struct mailbox {
	volatile u64 seq;
} __attribute__((aligned(CACHE_LINE)));

struct fstest {
	const struct kut_ops *kernel;
	int concurrent, results;
	s64 first, last;
	struct tf_reader reader;
	struct tf_test test;
	struct call_result got[TF_MAX_CALLS];
	s64 run, passed, failed;
	int bad_input;
	/* CPU 0 posts its posted-th call B in job; CPU 1 answers in ack when
	 * it starts and in done when its call returned. quit, set before the
	 * last job, ends CPU 1's loop. */
	u64 posted;
	struct mailbox job, ack, done, quit;
	struct sleeper sleepers[2];
};

static struct fstest fst;
static struct unit_buf bufs[2] __attribute__((aligned(4096)));
static struct unit_buf setup_buf __attribute__((aligned(4096)));

static void label(const void *addr, size_t len, const char *name)
{
	hc_label(addr, len, name, strlen(name));
}

/* parse_range reads FIRST-LAST, or one id N as N-N. */
static int parse_range(const char *s, s64 *first, s64 *last)
{
	char a[24];
	u64 lo, hi;
	size_t i = 0;
	while (s[i] && s[i] != '-' && i + 1 < sizeof a) {
		a[i] = s[i];
		i++;
	}
	a[i] = 0;
	if (parse_u64(a, &lo) != 0)
		return -1;
	hi = lo;
	if (s[i] == '-' && parse_u64(s + i + 1, &hi) != 0)
		return -1;
	if (s[i] && s[i] != '-')
		return -1;
	if (hi < lo || hi > (1UL << 62))
		return -1;
	*first = (s64)lo;
	*last = (s64)hi;
	return 0;
}

static void usage_exit(const char *why)
{
	kprintf("fstest: %s; usage: fstest %s\n", why, fstest_usage);
	hc_exit(2);
}

static int fstest_setup(struct wctx *w)
{
	fst.kernel = &kut_scalable;
	fst.first = 1;
	fst.last = 1L << 62;
	for (int i = 1; i < w->argc; i++) {
		const char *a = w->argv[i];
		if (strcmp(a, "mono") == 0)
			fst.kernel = &kut_mono;
		else if (strcmp(a, "scalable") == 0)
			fst.kernel = &kut_scalable;
		else if (strcmp(a, "concurrent") == 0)
			fst.concurrent = 1;
		else if (strcmp(a, "sequential") == 0)
			fst.concurrent = 0;
		else if (strcmp(a, "results") == 0)
			fst.results = 1;
		else if (strcmp(a, "plant=stat") == 0)
			kut_plants |= KUT_PLANT_STAT;
		else if (parse_range(a, &fst.first, &fst.last) != 0)
			usage_exit("bad argument");
	}
	if (!w->input)
		usage_exit("no test file: run it with vmm run --tests FILE");
	if (tf_begin(&fst.reader, w->input, w->input_len) < 0) {
		kprintf("fstest: bad test file: %s\n", fst.reader.err);
		hc_exit(2);
	}
	if (fst.kernel->init(w->ncpus) != 0) {
		kprintf("fstest: the %s kernel failed to start\n", fst.kernel->name);
		hc_exit(2);
	}
	label(&bufs[0], sizeof bufs[0], "struct unit_buf:0");
	label(&bufs[1], sizeof bufs[1], "struct unit_buf:1");
	label(&fst, sizeof fst, "struct fstest:0");
	return 0;
}

/* call runs slot of the current test on cpu inside its test region. */
static void call(int cpu, int slot)
{
	hc_region_begin((u64)fst.test.id);
	tf_call(fst.kernel, cpu, &fst.test, slot, bufs[cpu].b, &fst.got[slot].f);
	hc_region_end((u64)fst.test.id);
}

static void post(struct mailbox *m, u64 v, int cpu)
{
	__atomic_store_n(&m->seq, v, __ATOMIC_SEQ_CST);
	sleeper_wake(&fst.sleepers[cpu], cpu);
}

static void wait_for(struct mailbox *m, u64 v, int me)
{
	u64 spins = 0, seen;
	while ((seen = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE)) != v)
		sleeper_wait(&fst.sleepers[me], &m->seq, seen, &spins);
}

/* run_test makes the current test's calls, on one or two CPUs. */
static void run_test(struct wctx *w)
{
	if (fst.test.ncalls == 1 || w->ncpus == 1) {
		for (int s = 0; s < fst.test.ncalls; s++)
			call(0, s);
		return;
	}
	u64 n = ++fst.posted;
	if (fst.concurrent) {
		post(&fst.job, n, 1);
		wait_for(&fst.ack, n, 0); /* CPU 1 is running: start together */
		call(0, 0);
	} else {
		call(0, 0);
		post(&fst.job, n, 1);
	}
	wait_for(&fst.done, n, 0);
}

static void driver(struct wctx *w)
{
	char err[TF_ERR_MAX];
	for (;;) {
		int got = tf_next(&fst.reader, &fst.test);
		if (got < 0) {
			kprintf("fstest: bad test file: %s\n", fst.reader.err);
			fst.bad_input = 1;
			break;
		}
		if (got == 0)
			break;
		if (fst.test.id < fst.first || fst.test.id > fst.last)
			continue;
		fst.run++;
		if (tf_setup(fst.kernel, 0, &fst.test, setup_buf.b, err) != 0) {
			kprintf("fstest: FAIL test %ld (set %ld): %s\n", fst.test.id, fst.test.set, err);
			fst.failed++;
			continue;
		}
		run_test(w);
		struct tf_fields res[TF_MAX_CALLS];
		for (int s = 0; s < TF_MAX_CALLS; s++)
			res[s] = fst.got[s].f;
		if (fst.results)
			tf_print(&fst.test, res);
		if (tf_check(&fst.test, res))
			fst.failed++;
		else
			fst.passed++;
	}
	if (w->ncpus > 1) {
		__atomic_store_n(&fst.quit.seq, 1, __ATOMIC_RELEASE);
		post(&fst.job, fst.posted + 1, 1);
	}
}

/* helper is CPU 1: it makes call B of each test CPU 0 posts, until CPU 0
 * posts one more job with quit set. */
static void helper(void)
{
	for (u64 n = 1;; n++) {
		wait_for(&fst.job, n, 1);
		if (__atomic_load_n(&fst.quit.seq, __ATOMIC_ACQUIRE))
			return;
		__atomic_store_n(&fst.ack.seq, n, __ATOMIC_SEQ_CST);
		call(1, 1);
		post(&fst.done, n, 0);
	}
}

static void fstest_run(struct wctx *w, int cpu)
{
	if (cpu == 0)
		driver(w);
	else if (cpu == 1)
		helper();
}

static int fstest_check(struct wctx *w)
{
	(void)w;
	if (fst.bad_input)
		return 2;
	kprintf("fstest: kernel %s, %s: %ld tests run, %ld passed, %ld failed\n", fst.kernel->name,
		fst.concurrent ? "concurrent" : "sequential", fst.run, fst.passed, fst.failed);
	return fst.failed ? 1 : 0;
}

const struct workload wl_fstest = {
	.name = "fstest",
	.usage = fstest_usage,
	.setup = fstest_setup,
	.run = fstest_run,
	.check = fstest_check,
};
