/*
 * Workloads whose test regions make a known set of accesses, for trace
 * mode and the sharing analysis (vmm replay --analysis). Each CPU's region
 * is one asm block from its HC_REGION_BEGIN to its HC_REGION_END, so
 * nothing the compiler emits falls inside it.
 *
 * trace-hits N: in region 1, every CPU does N "lock incq" of the hits
 * field of one labelled struct counter: N read-modify-writes of 8 bytes
 * each, a field both CPUs write.
 * trace-fields N: in region 2, CPU c stores N times to field c of one
 * labelled struct fields, all in one cache line: nothing shared byte for
 * byte, everything shared by line (false sharing).
 */
#include "abi.h"
#include "console.h"
#include "hypercall.h"
#include "string.h"
#include "sync.h"
#include "workload.h"

struct counter {
	u64 hits;
	u64 misses;
};

struct fields {
	u64 f[8];
};

static u64 traced_n;
/* start makes the CPUs enter their regions together, so that their
 * accesses interleave. */
static struct barrier start;
static struct counter counter __attribute__((aligned(CACHE_LINE)));
static struct fields fields __attribute__((aligned(CACHE_LINE)));

static void label(const void *addr, size_t len, const char *name)
{
	hc_label(addr, len, name, strlen(name));
}

static int traced_setup(struct wctx *w)
{
	traced_n = arg_u64(w, 1, 1000);
	if (traced_n == 0)
		traced_n = 1;
	barrier_init(&start, (u32)w->ncpus);
	label(&counter, sizeof counter, "struct counter:0");
	label(&fields, sizeof fields, "struct fields:0");
	return 0;
}

/* region runs "lock incq (p)" (rmw) or "movq %rax, (p)" n times as
 * region id; n > 0. */
static void region_incs(u64 id, volatile u64 *p, u64 n)
{
	asm volatile("mov %[begin], %%eax\n\t"
		     "mov %[id], %%rdi\n\t"
		     "outl %%eax, %%dx\n\t"
		     "1: lock incq (%[p])\n\t"
		     "dec %[n]\n\t"
		     "jnz 1b\n\t"
		     "mov %[end], %%eax\n\t"
		     "mov %[id], %%rdi\n\t"
		     "outl %%eax, %%dx\n\t"
		     : [n] "+r"(n)
		     : [p] "r"(p), [id] "r"(id), [begin] "i"(HC_REGION_BEGIN), [end] "i"(HC_REGION_END),
		       "d"(ABI_PORT_HYPERCALL)
		     : "rax", "rdi", "memory", "cc");
}

static void region_stores(u64 id, volatile u64 *p, u64 n)
{
	asm volatile("mov %[begin], %%eax\n\t"
		     "mov %[id], %%rdi\n\t"
		     "outl %%eax, %%dx\n\t"
		     "1: movq %[n], (%[p])\n\t"
		     "dec %[n]\n\t"
		     "jnz 1b\n\t"
		     "mov %[end], %%eax\n\t"
		     "mov %[id], %%rdi\n\t"
		     "outl %%eax, %%dx\n\t"
		     : [n] "+r"(n)
		     : [p] "r"(p), [id] "r"(id), [begin] "i"(HC_REGION_BEGIN), [end] "i"(HC_REGION_END),
		       "d"(ABI_PORT_HYPERCALL)
		     : "rax", "rdi", "memory", "cc");
}

static void hits_run(struct wctx *w, int cpu)
{
	(void)w;
	(void)cpu;
	barrier_wait(&start);
	region_incs(1, &counter.hits, traced_n);
}

static void fields_run(struct wctx *w, int cpu)
{
	(void)w;
	barrier_wait(&start);
	region_stores(2, &fields.f[cpu % 8], traced_n);
}

static int hits_check(struct wctx *w)
{
	u64 want = traced_n * (u64)w->ncpus;
	kprintf("trace-hits: %lu of %lu\n", counter.hits, want);
	return counter.hits != want;
}

static int fields_check(struct wctx *w)
{
	(void)w;
	kprintf("trace-fields: done\n");
	return 0;
}

const struct workload wl_trace_hits = {
	.name = "trace-hits",
	.usage = "[increments per cpu]",
	.setup = traced_setup,
	.run = hits_run,
	.check = hits_check,
};

const struct workload wl_trace_fields = {
	.name = "trace-fields",
	.usage = "[stores per cpu]",
	.setup = traced_setup,
	.run = fields_run,
	.check = fields_check,
};
