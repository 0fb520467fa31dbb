/*
 * Misbehaving guests, for the VMM's error handling: each must make the VMM
 * stop with a clear error, never crash or hang it.
 */
#include "hypercall.h"
#include "workload.h"

static void bad_hypercall_run(struct wctx *w, int cpu)
{
	(void)w;
	if (cpu == 0)
		hypercall(0x7777, 1, 2, 3, 4);
}

static void bad_address_run(struct wctx *w, int cpu)
{
	(void)w;
	if (cpu == 0)
		hc_console((const char *)0xfffffffff000UL, 16);
}

static void bad_memory_run(struct wctx *w, int cpu)
{
	(void)w;
	if (cpu == 0)
		*(volatile u64 *)0xf0000000UL = 1; /* mapped by the page tables, not RAM */
}

static void triple_fault_run(struct wctx *w, int cpu)
{
	(void)w;
	if (cpu == 0)
		asm volatile("ud2"); /* no IDT: #UD becomes a triple fault */
}

static void spin_forever_run(struct wctx *w, int cpu)
{
	(void)w;
	(void)cpu;
	for (;;)
		asm volatile("pause");
}

const struct workload wl_bad_hypercall = {.name = "bad-hypercall", .usage = "", .run = bad_hypercall_run};
const struct workload wl_bad_address = {.name = "bad-address", .usage = "", .run = bad_address_run};
const struct workload wl_bad_memory = {.name = "bad-memory", .usage = "", .run = bad_memory_run};
const struct workload wl_triple_fault = {.name = "triple-fault", .usage = "", .run = triple_fault_run};
const struct workload wl_spin_forever = {.name = "spin-forever", .usage = "", .run = spin_forever_run};
