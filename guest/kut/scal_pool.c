/*
 * scalable's pools: every object is allocated and labelled once at init,
 * in fixed numbers (kut.h's limits), and handed out from per-CPU free
 * stacks of pool indices. A CPU allocates from its own stack and frees to
 * it; only when its stack is empty does it steal from another CPU's, and
 * only when every stack is empty does it try scal_reclaim. Stacks hold
 * indices, not links through the objects, so rebuilding them at reset
 * touches no object.
 */
#include "alloc.h"
#include "console.h"
#include "hypercall.h"
#include "scal.h"
#include "string.h"

struct scal_kernel scal;

static const u16 pool_size[SP_NPOOLS] = {
	[SP_INODE] = KUT_MAX_INODES,
	[SP_DIRENT] = KUT_MAX_NAMES,
	[SP_FILE] = KUT_MAX_FILES,
	[SP_PIPE] = KUT_MAX_PIPES,
	[SP_PAGE] = KUT_MAX_PAGES,
};

/* A whole unit of zeros, to compare written data against. */
static const u8 zero_unit[KUT_UNIT];

static void label(const void *obj, size_t len, const char *type, int i)
{
	char name[48];
	size_t n = ksnprintf(name, sizeof name, "%s:%d", type, i);

	hc_label(obj, len, name, n);
}

static void *pool_alloc(size_t size, size_t align) { return kalloc_or_die(size, align); }

static void alloc_objects(void)
{
	scal.inodes = pool_alloc(KUT_MAX_INODES * sizeof(struct scal_inode), CACHE_LINE);
	scal.dirents = pool_alloc(KUT_MAX_NAMES * sizeof(struct scal_dirent), CACHE_LINE);
	scal.files = pool_alloc(KUT_MAX_FILES * sizeof(struct scal_file), CACHE_LINE);
	scal.pipes = pool_alloc(KUT_MAX_PIPES * sizeof(struct scal_pipe), CACHE_LINE);
	scal.pages = pool_alloc((size_t)KUT_MAX_PAGES * KUT_UNIT, 4096);
	scal.buckets = pool_alloc(SCAL_NBUCKETS * sizeof(struct scal_bucket), CACHE_LINE);
	scal.cpus = pool_alloc(KUT_NCPU * sizeof(struct scal_cpu), CACHE_LINE);
	for (int p = 0; p < KUT_NPROC; p++) {
		scal.fdtab[p] = pool_alloc(sizeof(struct scal_fdtab), CACHE_LINE);
		scal.vm[p] = pool_alloc(sizeof(struct scal_vmspace), CACHE_LINE);
		for (int n = 0; n < SCAL_NNODES; n++)
			scal.vm[p]->node[n] = pool_alloc(sizeof(struct scal_vmnode), CACHE_LINE);
	}
}

/* label_objects names every object "struct <tag>:<index>" for reports. */
static void label_objects(void)
{
	for (int i = 0; i < KUT_MAX_INODES; i++) {
		scal.inodes[i].index = i;
		label(&scal.inodes[i], sizeof(struct scal_inode), "struct scal_inode", i);
	}
	for (int i = 0; i < KUT_MAX_NAMES; i++) {
		scal.dirents[i].index = i;
		label(&scal.dirents[i], sizeof(struct scal_dirent), "struct scal_dirent", i);
	}
	for (int i = 0; i < KUT_MAX_FILES; i++) {
		scal.files[i].index = i;
		label(&scal.files[i], sizeof(struct scal_file), "struct scal_file", i);
	}
	for (int i = 0; i < KUT_MAX_PIPES; i++) {
		scal.pipes[i].index = i;
		label(&scal.pipes[i], sizeof(struct scal_pipe), "struct scal_pipe", i);
	}
	for (int i = 0; i < KUT_MAX_PAGES; i++)
		label(scal.pages + (size_t)i * KUT_UNIT, KUT_UNIT, "page", i);
	for (int i = 0; i < SCAL_NBUCKETS; i++)
		label(&scal.buckets[i], sizeof(struct scal_bucket), "struct scal_bucket", i);
	for (int i = 0; i < KUT_NCPU; i++)
		label(&scal.cpus[i], sizeof(struct scal_cpu), "struct scal_cpu", i);
	for (int p = 0; p < KUT_NPROC; p++) {
		label(scal.fdtab[p], sizeof(struct scal_fdtab), "struct scal_fdtab", p);
		label(scal.vm[p], sizeof(struct scal_vmspace), "struct scal_vmspace", p);
		for (int n = 0; n < SCAL_NNODES; n++)
			label(scal.vm[p]->node[n], sizeof(struct scal_vmnode), "struct scal_vmnode",
			      p * SCAL_NNODES + n);
	}
	label(&scal, sizeof scal, "struct scal_kernel", 0);
}

void scal_pools_init(int ncpus)
{
	if (ncpus < 1)
		ncpus = 1;
	if (ncpus > KUT_NCPU)
		ncpus = KUT_NCPU;
	scal.ncpus = ncpus;
	alloc_objects();
	label_objects();
}

/*
 * scal_pools_rebuild gives every object back to the CPU that owns it: a
 * contiguous share of each pool per CPU, lowest index on top. Every
 * reset thus starts from the same stacks, so runs are reproducible.
 */
void scal_pools_rebuild(void)
{
	for (int c = 0; c < KUT_NCPU; c++)
		for (int p = 0; p < SP_NPOOLS; p++)
			scal.cpus[c].free[p].n = 0;
	for (int p = 0; p < SP_NPOOLS; p++) {
		int n = pool_size[p];
		for (int i = n - 1; i >= 0; i--) {
			struct scal_stack *s = &scal.cpus[i * scal.ncpus / n].free[p];
			s->idx[s->n++] = (u16)i;
		}
	}
}

static int pop(struct scal_cpu *c, int pool)
{
	int idx = -1;
	struct scal_stack *s = &c->free[pool];

	/* Peek first, so that a CPU looking for something to steal does not
	 * write an empty stack's lock line. */
	if (__atomic_load_n(&s->n, __ATOMIC_RELAXED) == 0)
		return -1;
	spin_lock(&c->lock);
	if (s->n > 0)
		idx = s->idx[--s->n];
	spin_unlock(&c->lock);
	return idx;
}

static int pop_any(int cpu, int pool)
{
	int idx = pop(&scal.cpus[cpu], pool);

	for (int o = 1; idx < 0 && o < KUT_NCPU; o++)
		idx = pop(&scal.cpus[(cpu + o) % KUT_NCPU], pool);
	return idx;
}

/* scal_pool_get returns a free index of pool, or -1 when there is none. */
int scal_pool_get(int cpu, int pool)
{
	int idx = pop_any(cpu, pool);

	if (idx < 0 && scal_reclaim(cpu))
		idx = pop_any(cpu, pool);
	return idx;
}

void scal_pool_put(int cpu, int pool, int idx)
{
	struct scal_cpu *c = &scal.cpus[cpu];

	spin_lock(&c->lock);
	c->free[pool].idx[c->free[pool].n++] = (u16)idx;
	spin_unlock(&c->lock);
}

/* Pages are zeroed when handed out, not when freed, so reset is cheap. */
u8 *scal_page_get(int cpu)
{
	int idx = scal_pool_get(cpu, SP_PAGE);
	u8 *page;

	if (idx < 0)
		return NULL;
	page = scal.pages + (size_t)idx * KUT_UNIT;
	memset(page, 0, KUT_UNIT);
	return page;
}

void scal_page_put(int cpu, u8 *page)
{
	if (page)
		scal_pool_put(cpu, SP_PAGE, (int)((size_t)(page - scal.pages) / KUT_UNIT));
}

int scal_unit_is_zero(const u8 *buf) { return memcmp(buf, zero_unit, KUT_UNIT) == 0; }

s64 scal_ref_sum(struct scal_ref *r)
{
	s64 n = 0;

	for (int c = 0; c < KUT_NCPU; c++)
		n += __atomic_load_n(&r->cpu[c].n, __ATOMIC_RELAXED);
	return n;
}

void scal_ref_clear(struct scal_ref *r)
{
	for (int c = 0; c < KUT_NCPU; c++)
		if (r->cpu[c].n)
			r->cpu[c].n = 0;
}
