/* Hypercalls: outl to ABI_PORT_HYPERCALL, see guest/ABI.md. */
#ifndef HYPERCALL_H
#define HYPERCALL_H

#ifdef CREWVM_HOST
#include "host_hypercall.h" /* the Linux build of the harness (guest/host) */
#else

#include "abi.h"
#include "types.h"

static inline u64 hypercall(u32 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 ret;
	register u64 r8 asm("r8") = a3;
	asm volatile("outl %%eax, %%dx"
		     : "=a"(ret)
		     : "a"(nr), "d"(ABI_PORT_HYPERCALL), "D"(a0), "S"(a1), "c"(a2), "r"(r8)
		     : "memory");
	return ret;
}

static inline __attribute__((noreturn)) void hc_exit(int status)
{
	hypercall(HC_EXIT, (u64)status, 0, 0, 0);
	for (;;)
		asm volatile("hlt");
}

static inline u64 hc_time(void) { return hypercall(HC_TIME, 0, 0, 0, 0); }
static inline void hc_halt(void) { hypercall(HC_HALT, 0, 0, 0, 0); }
static inline void hc_wake(int cpu) { hypercall(HC_WAKE, (u64)cpu, 0, 0, 0); }
static inline void hc_region_begin(u64 id) { hypercall(HC_REGION_BEGIN, id, 0, 0, 0); }
static inline void hc_region_end(u64 id) { hypercall(HC_REGION_END, id, 0, 0, 0); }

static inline void hc_console(const char *s, size_t len)
{
	hypercall(HC_CONSOLE, (u64)s, len, 0, 0);
}

static inline void hc_label(const void *addr, size_t len, const char *name, size_t namelen)
{
	hypercall(HC_LABEL, (u64)addr, len, (u64)name, namelen);
}

#endif /* CREWVM_HOST */

#endif
