/* Every workload the guest knows, by name. */
#include "workload.h"

extern const struct workload wl_hello, wl_cpuid, wl_clock, wl_racy_counter, wl_locked_counter;
extern const struct workload wl_bad_hypercall, wl_bad_address, wl_bad_memory,
	wl_triple_fault, wl_spin_forever;
extern const struct workload wl_msgpass, wl_pingpong, wl_falseshare;
extern const struct workload wl_matmul, wl_radix, wl_lu, wl_fft, wl_stencil, wl_nbody;

const struct workload *const workloads[] = {
	&wl_hello,
	&wl_cpuid,
	&wl_clock,
	&wl_racy_counter,
	&wl_locked_counter,
	&wl_bad_hypercall,
	&wl_bad_address,
	&wl_bad_memory,
	&wl_triple_fault,
	&wl_spin_forever,
	&wl_msgpass,
	&wl_pingpong,
	&wl_falseshare,
	&wl_matmul,
	&wl_radix,
	&wl_lu,
	&wl_fft,
	&wl_stencil,
	&wl_nbody,
	NULL,
};
