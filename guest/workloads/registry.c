/* Every workload the guest knows, by name. */
#include "workload.h"

extern const struct workload wl_hello, wl_cpuid, wl_clock, wl_racy_counter, wl_locked_counter;
extern const struct workload wl_bad_hypercall, wl_bad_address, wl_bad_memory,
	wl_triple_fault, wl_spin_forever;
extern const struct workload wl_msgpass, wl_pingpong, wl_falseshare;
extern const struct workload wl_matmul, wl_radix, wl_lu, wl_fft, wl_stencil, wl_nbody;
extern const struct workload wl_adv_bts, wl_adv_straddle, wl_adv_twomem, wl_adv_rep, wl_adv_atomics,
	wl_adv_xsave, wl_adv_fsgs, wl_adv_pagecross, wl_adv_alias, wl_adv_shortloop, wl_adv_rdtsc,
	wl_adv_gather;
extern const struct workload wl_trace_hits, wl_trace_fields, wl_fstest;
extern const struct workload wl_diskread, wl_diskwrite, wl_diskmix, wl_bad_disk;

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
	&wl_adv_bts,
	&wl_adv_straddle,
	&wl_adv_twomem,
	&wl_adv_rep,
	&wl_adv_atomics,
	&wl_adv_xsave,
	&wl_adv_gather,
	&wl_adv_fsgs,
	&wl_adv_pagecross,
	&wl_adv_alias,
	&wl_adv_shortloop,
	&wl_adv_rdtsc,
	&wl_trace_hits,
	&wl_trace_fields,
	&wl_fstest,
	&wl_diskread,
	&wl_diskwrite,
	&wl_diskmix,
	&wl_bad_disk,
	NULL,
};
