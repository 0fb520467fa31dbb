/* A bump allocator over the boot info's heap range; memory is never freed. */
#ifndef ALLOC_H
#define ALLOC_H

#include "types.h"

void alloc_init(u64 start, u64 end);
/* kalloc returns zeroed memory aligned to align (a power of two), or NULL. */
void *kalloc(size_t size, size_t align);
/* kalloc_or_die stops the run with an error when memory runs out. */
void *kalloc_or_die(size_t size, size_t align);

#endif
