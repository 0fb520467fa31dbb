/*
 * fstest-host [--parse-only] [--results] [--reverse] [mono|scalable|linux]
 * [FIRST-LAST] < FILE: the fstest harness and the kernels under test as a
 * Linux program. It reads a test file on standard input and runs its
 * tests as the guest workload does, with call A on "CPU" 0 and then call
 * B on "CPU" 1 in one thread (the sequential order; --reverse makes B
 * first), printing the same failure lines and summary. The kernel `linux`
 * is the host's own (host/kut_linux.c): the model checked against Linux.
 * --parse-only only parses, for fuzzing the parser (guest/fstest_test.go);
 * --results prints every call's results, as the workload's `results` does.
 * Exit status: 0 all passed, 1 a test failed, 2 bad input or usage.
 */
#include "alloc.h"
#include "console.h"
#include "fstest.h"
#include "hypercall.h"
#include "string.h"

long read(int fd, void *buf, unsigned long n);
extern const struct kut_ops kut_linux;

#define HEAP_SIZE (64UL << 20)
#define INPUT_MAX (64UL << 20)

static u8 heap[HEAP_SIZE] __attribute__((aligned(4096)));
static char input[INPUT_MAX];
static struct tf_reader reader;
static struct tf_test test;
static u8 bufs[2][KUT_UNIT];

static size_t read_all(void)
{
	size_t n = 0;
	for (;;) {
		long got = read(0, input + n, INPUT_MAX - n);
		if (got < 0) {
			kprintf("fstest-host: cannot read standard input\n");
			hc_exit(2);
		}
		if (got == 0)
			return n;
		n += (size_t)got;
		if (n == INPUT_MAX) {
			kprintf("fstest-host: input larger than %lu bytes\n", INPUT_MAX);
			hc_exit(2);
		}
	}
}

static void usage(void)
{
	kprintf("usage: fstest-host [--parse-only] [--results] [--reverse] [mono|scalable|linux] [FIRST-LAST] < FILE\n");
	hc_exit(2);
}

int main(int argc, char **argv)
{
	const struct kut_ops *k = &kut_scalable;
	int parse_only = 0, results = 0, reverse = 0;
	u64 first = 1, last = ~0UL >> 2;
	for (int i = 1; i < argc; i++) {
		u64 lo, hi;
		char *dash = NULL;
		for (char *p = argv[i]; *p; p++)
			if (*p == '-' && p != argv[i])
				dash = p;
		if (strcmp(argv[i], "--parse-only") == 0)
			parse_only = 1;
		else if (strcmp(argv[i], "--results") == 0)
			results = 1;
		else if (strcmp(argv[i], "--reverse") == 0)
			reverse = 1;
		else if (strcmp(argv[i], "linux") == 0)
			k = &kut_linux;
		else if (strcmp(argv[i], "mono") == 0)
			k = &kut_mono;
		else if (strcmp(argv[i], "scalable") == 0)
			k = &kut_scalable;
		else if (dash && (*dash = 0, parse_u64(argv[i], &lo) == 0 && parse_u64(dash + 1, &hi) == 0))
			first = lo, last = hi;
		else if (!dash && parse_u64(argv[i], &lo) == 0)
			first = last = lo;
		else
			usage();
	}
	alloc_init((u64)heap, (u64)heap + HEAP_SIZE);
	size_t len = read_all();
	if (tf_begin(&reader, input, len) < 0) {
		kprintf("fstest: bad test file: %s\n", reader.err);
		return 2;
	}
	if (!parse_only && k->init(2) != 0) {
		kprintf("fstest: the %s kernel failed to start\n", k->name);
		return 2;
	}
	s64 run = 0, passed = 0, failed = 0;
	char err[TF_ERR_MAX];
	int got;
	while ((got = tf_next(&reader, &test)) > 0) {
		if (parse_only || test.id < (s64)first || test.id > (s64)last)
			continue;
		run++;
		if (tf_setup(k, 0, &test, bufs[0], err) != 0) {
			kprintf("fstest: FAIL test %ld (set %ld): %s\n", test.id, test.set, err);
			failed++;
			continue;
		}
		struct tf_fields res[TF_MAX_CALLS];
		for (int i = 0; i < test.ncalls; i++) {
			int s = reverse ? test.ncalls - 1 - i : i;
			tf_call(k, s, &test, s, bufs[s], &res[s]);
		}
		if (results)
			tf_print(&test, res);
		if (tf_check(&test, res))
			failed++;
		else
			passed++;
	}
	if (got < 0) {
		kprintf("fstest: bad test file: %s\n", reader.err);
		return 2;
	}
	if (parse_only) {
		kprintf("fstest: parsed %ld sets, %ld tests\n", reader.sets, reader.tests);
		return 0;
	}
	kprintf("fstest: kernel %s, %s: %ld tests run, %ld passed, %ld failed\n", k->name,
		reverse ? "reverse" : "sequential", run, passed, failed);
	return failed ? 1 : 0;
}
