/* Spinlocks and barriers built on the compiler's atomics. */
#ifndef SYNC_H
#define SYNC_H

#include "types.h"

static inline void cpu_relax(void) { asm volatile("pause" ::: "memory"); }

struct spinlock {
	volatile u32 locked;
};

static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}

static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* A sense-reversing barrier for a fixed number of CPUs. */
struct barrier {
	volatile u32 count;
	volatile u32 sense;
	u32 total;
};

void barrier_init(struct barrier *b, u32 total);
void barrier_wait(struct barrier *b);

#endif
