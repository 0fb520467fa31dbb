/* The workload interface: every workload is a setup, a per-CPU run and a check. */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include "types.h"

struct wctx {
	int ncpus;
	int argc;      /* argv[0] is the workload name */
	char **argv;
	const char *input; /* the input region (guest/ABI.md), NULL when none */
	u64 input_len;
};

struct workload {
	const char *name;
	const char *usage;   /* arguments, for the list and for errors */
	/* setup runs on CPU 0 before the other CPUs start; nonzero fails the run. */
	int (*setup)(struct wctx *w);
	/* run runs on every CPU, concurrently. */
	void (*run)(struct wctx *w, int cpu);
	/* check runs on CPU 0 once every CPU returned from run; nonzero fails. */
	int (*check)(struct wctx *w);
};

/* arg_u64 returns argument i as a number, def when absent; bad input exits 2. */
u64 arg_u64(struct wctx *w, int i, u64 def);

/* The registry, in workloads/registry.c. */
extern const struct workload *const workloads[];

#endif
