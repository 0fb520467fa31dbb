/* Every workload the guest knows, by name. */
#include "workload.h"

extern const struct workload wl_hello, wl_cpuid, wl_racy_counter, wl_locked_counter;
extern const struct workload wl_bad_hypercall, wl_bad_address, wl_bad_memory,
	wl_triple_fault, wl_spin_forever;

const struct workload *const workloads[] = {
	&wl_hello,
	&wl_cpuid,
	&wl_racy_counter,
	&wl_locked_counter,
	&wl_bad_hypercall,
	&wl_bad_address,
	&wl_bad_memory,
	&wl_triple_fault,
	&wl_spin_forever,
	NULL,
};
