#include "alloc.h"
#include "console.h"
#include "hypercall.h"
#include "string.h"
#include "sync.h"

static struct spinlock alloc_lock;
static u64 heap_next, heap_end;

void alloc_init(u64 start, u64 end)
{
	heap_next = start;
	heap_end = end;
}

void *kalloc(size_t size, size_t align)
{
	void *p = NULL;
	spin_lock(&alloc_lock);
	u64 at = (heap_next + align - 1) & ~(u64)(align - 1);
	if (at >= heap_next && size <= heap_end - at) {
		heap_next = at + size;
		p = (void *)at;
	}
	spin_unlock(&alloc_lock);
	if (p)
		memset(p, 0, size);
	return p;
}

void *kalloc_or_die(size_t size, size_t align)
{
	void *p = kalloc(size, align);
	if (!p) {
		kprintf("out of memory allocating %lu bytes\n", (u64)size);
		hc_exit(2);
	}
	return p;
}
