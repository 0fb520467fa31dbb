#include "sync.h"

void barrier_init(struct barrier *b, u32 total)
{
	b->count = 0;
	b->sense = 0;
	b->total = total;
}

void barrier_wait(struct barrier *b)
{
	u32 sense = __atomic_load_n(&b->sense, __ATOMIC_ACQUIRE);
	if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->total) {
		__atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&b->sense, !sense, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) == sense)
		cpu_relax();
}
