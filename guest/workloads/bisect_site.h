/*
 * vmm bisect's end-to-end test sites: guest/Makefile builds a variant
 * image whose matmul and clock are compiled with BISECT_ADD 1, so that
 * it differs from the plain image in the immediate of one add instruction
 * of the same size in each, and nothing moves.
 */
#ifndef WORKLOADS_BISECT_SITE_H
#define WORKLOADS_BISECT_SITE_H

#include "types.h"

#ifndef BISECT_ADD
#define BISECT_ADD 0
#endif

static inline u64 bisect_site(u64 x)
{
	__asm__("add %1, %0" : "+r"(x) : "i"(BISECT_ADD));
	return x;
}

#endif
