/*
 * Host stand-ins for the hypercalls (guest/kernel/hypercall.h), so that the
 * kernel under test and the fstest harness build as an ordinary Linux
 * program too: `make -C guest host` builds build/host/fstest-host, which
 * the Go tests use to fuzz the harness's parser and to run test files fast
 * without a VM. kernel/hypercall.h includes it instead of its own code
 * when CREWVM_HOST is defined (the host build's -DCREWVM_HOST). Only what
 * that code uses is here; the console goes to standard output and labels
 * and regions are dropped.
 */
#ifndef HOST_HYPERCALL_H
#define HOST_HYPERCALL_H

#include "abi.h"
#include "types.h"

long write(int fd, const void *buf, unsigned long n);
__attribute__((noreturn)) void _exit(int status);

static inline __attribute__((noreturn)) void hc_exit(int status) { _exit(status); }
static inline u64 hc_time(void) { return 0; }
static inline void hc_halt(void) {}
static inline void hc_wake(int cpu) { (void)cpu; }
static inline void hc_region_begin(u64 id) { (void)id; }
static inline void hc_region_end(u64 id) { (void)id; }

static inline void hc_console(const char *s, size_t len)
{
	while (len > 0) {
		long n = write(1, s, len);
		if (n <= 0)
			_exit(3);
		s += n;
		len -= (size_t)n;
	}
}

static inline void hc_label(const void *addr, size_t len, const char *name, size_t namelen)
{
	(void)addr, (void)len, (void)name, (void)namelen;
}

#endif
