/*
 * Boot: CPU 0 prepares the allocator and the workload, wakes the others,
 * every CPU runs the workload, CPU 0 checks the result and exits with it.
 */
#include "abi.h"
#include "alloc.h"
#include "console.h"
#include "hypercall.h"
#include "string.h"
#include "workload.h"

static struct wctx ctx;
static const struct workload *current;
static volatile u32 finished;

static const struct workload *find_workload(const char *name)
{
	for (int i = 0; workloads[i]; i++)
		if (strcmp(workloads[i]->name, name) == 0)
			return workloads[i];
	return NULL;
}

static void list_workloads(void)
{
	for (int i = 0; workloads[i]; i++)
		kprintf("%s %s\n", workloads[i]->name, workloads[i]->usage);
}

u64 arg_u64(struct wctx *w, int i, u64 def)
{
	u64 v;
	if (i >= w->argc)
		return def;
	if (parse_u64(w->argv[i], &v) != 0) {
		kprintf("%s: bad argument '%s'; usage: %s %s\n", w->argv[0], w->argv[i],
			w->argv[0], current ? current->usage : "");
		hc_exit(2);
	}
	return v;
}

static int boot_cpu(struct bootinfo *bi)
{
	alloc_init(bi->heap_start, bi->heap_end);
	ctx.ncpus = (int)bi->ncpus;
	ctx.argc = (int)bi->argc;
	ctx.argv = (char **)bi->argv;
	if (bi->input_len > 0) {
		ctx.input = (const char *)bi->input_addr;
		ctx.input_len = bi->input_len;
	}
	const char *name = ctx.argc > 0 ? ctx.argv[0] : "hello";
	if (strcmp(name, "list") == 0) {
		list_workloads();
		return 0;
	}
	current = find_workload(name);
	if (!current) {
		kprintf("unknown workload '%s'; known workloads:\n", name);
		list_workloads();
		return 2;
	}
	if (current->setup && current->setup(&ctx) != 0)
		return 1;
	return -1;
}

void kmain(u64 cpu, struct bootinfo *bi)
{
	if (cpu == 0) {
		int status = boot_cpu(bi);
		if (status >= 0)
			hc_exit(status);
		for (u32 i = 1; i < bi->ncpus; i++)
			hc_wake((int)i);
	} else {
		hc_halt();
	}

	current->run(&ctx, (int)cpu);

	if (cpu != 0) {
		__atomic_add_fetch(&finished, 1, __ATOMIC_ACQ_REL);
		hc_wake(0);
		for (;;)
			hc_halt();
	}
	while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < bi->ncpus - 1)
		hc_halt();
	int status = current->check ? current->check(&ctx) : 0;
	if (status != 0)
		kprintf("%s: FAILED (status %d)\n", current->name, status);
	hc_exit(status);
}
