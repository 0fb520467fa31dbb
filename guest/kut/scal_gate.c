/*
 * Marking calls, and recycling what calls released.
 *
 * Lookups in scalable take no locks and no references, so an object a
 * call released may still be in use by a call on another CPU that found
 * it earlier. Released objects are therefore only marked (dead
 * descriptions and directory entries, descriptions of files whose
 * descriptor count sums to zero, unlinked inodes nothing refers to, pipes
 * with no open end), and scal_reclaim recycles them only when no other
 * CPU is inside a call: then no call can hold a pointer to them, since
 * nothing reachable leads to them. Each CPU writes only its own active
 * flag on entry and exit; the stop flag, read on entry, is written only
 * while reclaiming, which happens when a pool runs dry (reset recycles
 * everything without it). A CPU never waits for another to leave a call
 * (it may hold a lock the other is spinning on): if one is inside,
 * scal_reclaim gives up and the allocation fails.
 *
 * Pins cover the reclaiming call's own objects: a call pins what it found
 * without a reference (say, a description whose descriptor another CPU
 * just closed) before it allocates, and scal_reclaim leaves pinned
 * objects alone.
 */
#include "hypercall.h"
#include "scal.h"

struct scal_stop {
	u32 stop;
} __attribute__((aligned(CACHE_LINE)));

static struct scal_stop gate;

/* The planted bug's counter (KUT_PLANT_STAT, kut.h): a line every call reads. */
u64 scal_planted_stats __attribute__((aligned(CACHE_LINE)));

void scal_gate_init(void)
{
	static const char name[] = "struct scal_stop:0";

	hc_label(&gate, sizeof gate, name, sizeof name - 1);
}

void scal_enter(int cpu)
{
	struct scal_cpu *c = &scal.cpus[cpu];

	if (kut_plants & KUT_PLANT_STAT)
		(void)__atomic_load_n(&scal_planted_stats, __ATOMIC_RELAXED);

	for (;;) {
		__atomic_store_n(&c->active, 1, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&gate.stop, __ATOMIC_SEQ_CST))
			return;
		/* A CPU is reclaiming: stay out until it is done. */
		__atomic_store_n(&c->active, 0, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&gate.stop, __ATOMIC_ACQUIRE))
			cpu_relax();
	}
}

void scal_exit(int cpu)
{
	struct scal_cpu *c = &scal.cpus[cpu];

	c->npin = 0;
	__atomic_store_n(&c->active, 0, __ATOMIC_RELEASE);
}

void scal_pin(int cpu, void *obj)
{
	struct scal_cpu *c = &scal.cpus[cpu];

	if (c->npin < SCAL_NPIN)
		c->pin[c->npin++] = obj;
}

int scal_pinned(int cpu, const void *obj)
{
	struct scal_cpu *c = &scal.cpus[cpu];

	for (int i = 0; i < c->npin; i++)
		if (c->pin[i] == obj)
			return 1;
	return 0;
}

/* Descriptions first: releasing one drops its inode's reference. */
static void reclaim_files(int cpu)
{
	for (int i = 0; i < KUT_MAX_FILES; i++) {
		struct scal_file *f = &scal.files[i];
		if (f->pos.state == SCAL_FREE || scal_pinned(cpu, f))
			continue;
		if (f->pos.state == SCAL_LIVE && (f->type != SCAL_F_INODE || scal_ref_sum(&f->ref) != 0))
			continue;
		scal_file_release(cpu, f);
	}
}

static void reclaim_inodes(int cpu)
{
	for (int i = 0; i < KUT_MAX_INODES; i++) {
		struct scal_inode *ip = &scal.inodes[i];
		if (ip->state != SCAL_LIVE || scal_inode_nlink_sum(ip) != 0 || scal_pinned(cpu, ip))
			continue;
		if (scal_ref_sum(&ip->ref) == 0)
			scal_inode_free(cpu, ip);
	}
}

static void reclaim_pipes(int cpu)
{
	for (int i = 0; i < KUT_MAX_PIPES; i++) {
		struct scal_pipe *pp = &scal.pipes[i];
		if (pp->state != SCAL_LIVE || scal_pinned(cpu, pp))
			continue;
		if (pp->end[0].count == 0 && pp->end[1].count == 0)
			scal_pipe_free(cpu, pp);
	}
}

static void reclaim_dirents(int cpu)
{
	for (int i = 0; i < KUT_MAX_NAMES; i++) {
		struct scal_dirent *de = &scal.dirents[i];
		if (de->state != SCAL_DEAD)
			continue;
		scal_dirent_clear(de);
		scal_pool_put(cpu, SP_DIRENT, i);
	}
}

/* scal_reclaim_all recycles everything released; no other CPU may be
 * inside a call. */
void scal_reclaim_all(int cpu)
{
	reclaim_files(cpu);
	reclaim_inodes(cpu);
	reclaim_pipes(cpu);
	reclaim_dirents(cpu);
}

/* scal_reclaim returns 1 if it could recycle (whether or not anything was
 * free to recycle), 0 if another CPU is inside a call. */
int scal_reclaim(int cpu)
{
	if (__atomic_exchange_n(&gate.stop, 1, __ATOMIC_SEQ_CST))
		return 0;
	for (int c = 0; c < KUT_NCPU; c++) {
		if (c != cpu && __atomic_load_n(&scal.cpus[c].active, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&gate.stop, 0, __ATOMIC_RELEASE);
			return 0;
		}
	}
	scal_reclaim_all(cpu);
	__atomic_store_n(&gate.stop, 0, __ATOMIC_RELEASE);
	return 1;
}
