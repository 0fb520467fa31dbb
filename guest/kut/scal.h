/*
 * scalable: the kernel under test written after sv6, ScaleFS and RadixVM,
 * so that calls that commute touch no cache line in common where the
 * model lets them. The rules it follows:
 *
 *  - No global lock and no global counter. Every object has its own
 *    locks, and hot objects are cache-line aligned so that unrelated
 *    objects never share a line.
 *  - The directory is a hash table: a bucket's lock is on a line of its
 *    own, apart from its sequence count and chain; an entry's inode
 *    pointer is apart from its name. An inode's length, each of its data
 *    units and each CPU's delta of its link count are on lines of their
 *    own; a description's offset has its own line; a process's
 *    descriptor table has a line per descriptor; an address space is a
 *    two-level radix tree with a line per page.
 *  - Calls that only look read without writing: lookups are optimistic
 *    (sequence counts, retried when a writer got in between), and calls
 *    whose effect would be nothing (a write of the data already there, an
 *    lseek to the same offset, a munmap of nothing, a failing call) check
 *    that first and return without writing.
 *  - Objects come from per-CPU free stacks (stealing from other CPUs only
 *    when empty), inode numbers are cpu + KUT_NCPU * k per CPU.
 *  - The counts of references to inodes (descriptions and mappings) and to
 *    descriptions of files (descriptors) are per-CPU deltas, each on a
 *    line of its own, as in Refcache: taking and dropping a reference
 *    writes only the caller's line. Nothing observable depends on when a
 *    file description or an unlinked inode is freed, so the deltas are
 *    only summed when a pool runs dry (scal_reclaim) or at reset. Link
 *    counts are per-CPU deltas too, but stat sums them exactly (as of
 *    one instant). Pipe ends are counted exactly, under a lock per end
 *    (readers and writers are observable at once).
 *  - Nothing is freed while another CPU may be looking at it: apart from
 *    data pages (whose readers retry on the unit's sequence count), freed
 *    objects are only marked dead, and scal_reclaim recycles dead and
 *    unreferenced objects only while no other CPU is inside a call
 *    (scal_enter and scal_exit mark each CPU's calls).
 *
 * Lock order: directory buckets (by index); a fd slot, then a
 * description's offset lock, then an inode's size lock, then its unit
 * locks in ascending order; a page table entry, then unit locks; a pipe
 * end's lock or a pipe's data lock (never both); the per-CPU free stack
 * locks are taken last, one at a time. Sequence counts are never waited
 * on while holding a lock a writer might need.
 */
#ifndef SCAL_H
#define SCAL_H

#include "kut.h"
#include "sync.h"

#define SCAL_NBUCKETS 256   /* directory hash buckets (a power of two) */
#define SCAL_FANOUT 32      /* radix tree: KUT_VA_PAGES / SCAL_FANOUT nodes of SCAL_FANOUT pages */
#define SCAL_NNODES (KUT_VA_PAGES / SCAL_FANOUT)
#define SCAL_NPIN 4         /* objects a call may hold against scal_reclaim */
#define SCAL_TOUCH_MAX 512  /* page table entries a CPU remembers for reset */

_Static_assert(SCAL_NNODES * SCAL_FANOUT == KUT_VA_PAGES, "the radix tree covers the address space");
_Static_assert((SCAL_NBUCKETS & (SCAL_NBUCKETS - 1)) == 0, "bucket count is a power of two");

/* An object's life: on a free stack, in use, or released but perhaps
 * still seen by a lookup that started before (recycled by scal_reclaim). */
enum scal_state {
	SCAL_FREE,
	SCAL_LIVE,
	SCAL_DEAD,
};

/* One CPU's delta of a reference count, on a line of its own. */
struct scal_count {
	s64 n;
} __attribute__((aligned(CACHE_LINE)));

/* A reference count as per-CPU deltas; the count is their sum. */
struct scal_ref {
	struct scal_count cpu[KUT_NCPU];
};

/*
 * One unit of a file. valid says the unit is below the file's length; a
 * valid unit without a page is all zeros (a hole, or zeros written).
 * lock serialises writers; seq lets readers copy without writing.
 */
struct scal_unit {
	struct spinlock lock;
	u32 seq;
	u32 valid;
	u8 *page;
} __attribute__((aligned(CACHE_LINE)));

/* A file's length, on its own line: lock and seq cover len, and the
 * length changes only with the locks of the units it makes valid or not. */
struct scal_isize {
	struct spinlock lock;
	u32 seq;
	s64 len; /* units; unit i is valid exactly when i < len */
} __attribute__((aligned(CACHE_LINE)));

/* One CPU's change to a link count, on a line of its own; only that CPU
 * writes it, bumping seq around each change. */
struct scal_link_delta {
	u32 seq;
	s64 n;
} __attribute__((aligned(CACHE_LINE)));

/*
 * A link count: the sum of per-CPU deltas, so that link, unlink and
 * rename on names of one file, which commute, write different lines.
 * It stays exact: stat sums the deltas as of one instant (reading every
 * delta and its seq, then checking that no seq moved).
 */
struct scal_nlink {
	struct scal_link_delta cpu[KUT_NCPU];
};

struct scal_inode {
	u64 ino;   /* cpu + KUT_NCPU * k */
	s32 state; /* enum scal_state */
	s32 index; /* in the pool */
	struct scal_nlink nlink;
	struct scal_isize size;
	struct scal_unit unit[KUT_MAX_UNITS];
	/* Descriptions and mappings that refer to the inode. */
	struct scal_ref ref;
} __attribute__((aligned(CACHE_LINE)));

/*
 * A directory entry. The first line (name, next) is fixed once the entry
 * is on a chain, so that finding out whether a name exists does not read
 * the line a rename writes when it replaces the entry's file: ip, under
 * seq (and the bucket's lock).
 */
struct scal_dirent {
	struct scal_dirent *next;
	char name[KUT_NAME_MAX + 1];
	s32 state;
	s32 index;
	u32 seq __attribute__((aligned(CACHE_LINE)));
	struct scal_inode *ip;
} __attribute__((aligned(CACHE_LINE)));

/* A hash bucket. Writers hold lock, on a line of its own that lookups
 * never read, and bump seq around changes to the chain. */
struct scal_bucket {
	struct spinlock lock;
	u32 seq __attribute__((aligned(CACHE_LINE)));
	struct scal_dirent *head;
} __attribute__((aligned(CACHE_LINE)));

/* A pipe end's open descriptions (readers or writers). */
struct scal_pipe_end {
	struct spinlock lock; /* count, and the descriptor counts of this end's descriptions */
	s64 count;
} __attribute__((aligned(CACHE_LINE)));

/* A pipe: a ring of up to KUT_MAX_UNITS data pages under lock. A unit of
 * zeros has no page. */
struct scal_pipe {
	struct spinlock lock;
	s32 head, count;
	s32 state;
	s32 index;
	u8 *unit[KUT_MAX_UNITS];
	struct scal_pipe_end end[2]; /* 0: readers, 1: writers */
} __attribute__((aligned(CACHE_LINE)));

enum scal_ftype {
	SCAL_F_INODE = 1,
	SCAL_F_PIPE_READ,
	SCAL_F_PIPE_WRITE,
};

/* The mutable line of a description: the offset of a file (lock and seq
 * cover it), or a pipe end's descriptor count (under that end's lock). */
struct scal_fpos {
	struct spinlock lock;
	u32 seq;
	s64 off;
	s64 nfd;
	s32 state;
} __attribute__((aligned(CACHE_LINE)));

/* An open file description, shared by the descriptors dup2 makes. The
 * first line does not change while the description is open, so looking
 * a descriptor up never shares a line with a call moving the offset. */
struct scal_file {
	s32 type; /* enum scal_ftype */
	s32 index;
	struct scal_inode *ip;
	struct scal_pipe *pp;
	struct scal_fpos pos;
	/* Descriptors referring to a file's description (not a pipe end's). */
	struct scal_ref ref;
} __attribute__((aligned(CACHE_LINE)));

/* A descriptor, on a line of its own: lock serialises changes, lookups
 * just load file. */
struct scal_fdslot {
	struct spinlock lock;
	struct scal_file *file;
} __attribute__((aligned(CACHE_LINE)));

struct scal_fdtab {
	struct scal_fdslot slot[KUT_NFD];
};

/* A page table entry: one page's mapping, on a line of its own. */
struct scal_pte {
	struct spinlock lock;
	u32 seq;
	u8 mapped, anon, writable;
	u8 logged;             /* on its CPU's list for reset */
	s64 off;               /* file: the unit mapped */
	struct scal_inode *ip; /* file: holds a reference */
	u8 *page;              /* anon: NULL until written */
} __attribute__((aligned(CACHE_LINE)));

/* The radix tree's leaves and root; the root never changes after init. */
struct scal_vmnode {
	struct scal_pte pte[SCAL_FANOUT];
};

struct scal_vmspace {
	struct scal_vmnode *node[SCAL_NNODES];
} __attribute__((aligned(CACHE_LINE)));

/* The pools, by number. */
enum scal_pool {
	SP_INODE,
	SP_DIRENT,
	SP_FILE,
	SP_PIPE,
	SP_PAGE,
	SP_NPOOLS,
};

/* A free stack of pool indices; pop gives the lowest first after reset. */
struct scal_stack {
	s32 n;
	u16 idx[KUT_MAX_PAGES];
};

_Static_assert(KUT_MAX_PAGES >= KUT_MAX_INODES && KUT_MAX_PAGES >= KUT_MAX_NAMES &&
		       KUT_MAX_PAGES >= KUT_MAX_FILES && KUT_MAX_PAGES >= KUT_MAX_PIPES,
	       "a stack holds any pool");

/*
 * A CPU's own state. Only that CPU writes it, except that other CPUs take
 * lock to steal from an empty stack and scal_reclaim reads active.
 */
struct scal_cpu {
	struct spinlock lock; /* the stacks */
	u32 active;           /* inside a call (scal_enter .. scal_exit) */
	s32 npin;
	void *pin[SCAL_NPIN];
	u64 next_ino;               /* k of the next inode number */
	s64 va_next[KUT_NPROC];     /* where the next non-fixed mmap looks first */
	s32 ntouched;
	s32 touch_overflow;         /* reset must clear every page table entry */
	u16 touched[SCAL_TOUCH_MAX]; /* pid * KUT_VA_PAGES + va */
	struct scal_stack free[SP_NPOOLS];
} __attribute__((aligned(CACHE_LINE)));

/* Where everything is; written at init only. */
struct scal_kernel {
	int ncpus;
	struct scal_inode *inodes;
	struct scal_dirent *dirents;
	struct scal_file *files;
	struct scal_pipe *pipes;
	u8 *pages;
	struct scal_bucket *buckets;
	struct scal_fdtab *fdtab[KUT_NPROC];
	struct scal_vmspace *vm[KUT_NPROC];
	struct scal_cpu *cpus;
} __attribute__((aligned(CACHE_LINE)));

extern struct scal_kernel scal;

/* Results. */
static inline void scal_ok(struct kres *res, s64 r) { res->r = r; }

static inline void scal_fail(struct kres *res, s64 err)
{
	res->r = -1;
	res->err = err;
}

static inline int scal_bad_pid(int pid) { return pid < 0 || pid >= KUT_NPROC; }
static inline int scal_bad_fd(int fd) { return fd < 0 || fd >= KUT_NFD; }

/*
 * Sequence counts. A writer (holding the lock) makes seq odd, changes the
 * data and makes it even again; a reader takes seq_begin, reads (with
 * __atomic loads for anything it follows), and retries while seq_retry.
 */
static inline u32 seq_begin(const u32 *seq)
{
	u32 s;

	while ((s = __atomic_load_n(seq, __ATOMIC_ACQUIRE)) & 1)
		cpu_relax();
	return s;
}

static inline int seq_retry(const u32 *seq, u32 s)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(seq, __ATOMIC_RELAXED) != s;
}

static inline void seq_write_begin(u32 *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void seq_write_end(u32 *seq) { __atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE); }

/* Reference counts: a CPU only changes its own delta. */
static inline void scal_ref_add(struct scal_ref *r, int cpu, s64 d)
{
	__atomic_fetch_add(&r->cpu[cpu].n, d, __ATOMIC_RELAXED);
}

/* scal_ref_sum is exact only while no other CPU is in a call. */
s64 scal_ref_sum(struct scal_ref *r);
void scal_ref_clear(struct scal_ref *r);

/* scal_gate.c: marking calls, pins, and recycling. */
void scal_gate_init(void);
void scal_enter(int cpu);
void scal_exit(int cpu);
void scal_pin(int cpu, void *obj);
int scal_pinned(int cpu, const void *obj);
int scal_reclaim(int cpu);
void scal_reclaim_all(int cpu);

/* scal_pool.c: the pools and their per-CPU free stacks. */
void scal_pools_init(int ncpus);
void scal_pools_rebuild(void);
int scal_pool_get(int cpu, int pool);
void scal_pool_put(int cpu, int pool, int idx);
/* scal_page_get returns a zeroed data page, or NULL. */
u8 *scal_page_get(int cpu);
void scal_page_put(int cpu, u8 *page);
int scal_unit_is_zero(const u8 *buf);

/* scal_inode.c: inodes and their data. */
struct scal_inode *scal_inode_new(int cpu);
void scal_inode_discard(int cpu, struct scal_inode *ip);
void scal_inode_free(int cpu, struct scal_inode *ip);
void scal_inode_clear(struct scal_inode *ip);
void scal_inode_nlink_add(struct scal_inode *ip, int cpu, s64 d);
s64 scal_inode_nlink_sum(struct scal_inode *ip);
void scal_inode_stat(struct scal_inode *ip, struct kres *res);
s64 scal_inode_len(struct scal_inode *ip);
int scal_inode_read(struct scal_inode *ip, s64 off, u8 *buf, s64 *data);
s64 scal_inode_write(int cpu, struct scal_inode *ip, s64 off, const u8 *buf);
int scal_inode_poke(int cpu, struct scal_inode *ip, s64 off, u8 byte);
void scal_inode_truncate(int cpu, struct scal_inode *ip);

/* scal_dir.c: the hashed directory and the calls that name files. */
void scal_dir_clear(void);
void scal_dirent_clear(struct scal_dirent *de);
void scal_open(int cpu, int pid, const char *name, int flags, struct kres *res);
void scal_link(int cpu, int pid, const char *old, const char *new_name, struct kres *res);
void scal_unlink(int cpu, int pid, const char *name, struct kres *res);
void scal_rename(int cpu, int pid, const char *src, const char *dst, struct kres *res);
void scal_stat(int cpu, int pid, const char *name, struct kres *res);

/* scal_fd.c: descriptions, descriptor tables and the calls on descriptors. */
struct scal_file *scal_file_new(int cpu, int type, struct scal_inode *ip, struct scal_pipe *pp);
void scal_file_discard(int cpu, struct scal_file *f);
void scal_file_drop(int cpu, struct scal_file *f);
void scal_file_release(int cpu, struct scal_file *f);
void scal_file_clear(struct scal_file *f);
struct scal_file *scal_fd_get(int pid, int fd);
int scal_fd_install(int pid, struct scal_file *f);
void scal_fd_uninstall(int pid, int fd);
void scal_fd_clear(void);
void scal_dup2(int cpu, int spid, int sfd, int dpid, int dfd, struct kres *res);
void scal_fstat(int cpu, int pid, int fd, struct kres *res);
void scal_lseek(int cpu, int pid, int fd, s64 off, int whence, struct kres *res);
void scal_close(int cpu, int pid, int fd, struct kres *res);
void scal_read(int cpu, int pid, int fd, u8 *buf, struct kres *res);
void scal_write(int cpu, int pid, int fd, const u8 *buf, struct kres *res);
void scal_pread(int cpu, int pid, int fd, s64 off, u8 *buf, struct kres *res);
void scal_pwrite(int cpu, int pid, int fd, s64 off, const u8 *buf, struct kres *res);

/* scal_pipe.c: pipes. */
void scal_pipe_free(int cpu, struct scal_pipe *pp);
void scal_pipe_clear(struct scal_pipe *pp);
void scal_pipe_hold(struct scal_file *f);
void scal_pipe_drop(struct scal_file *f);
void scal_pipe(int cpu, int pid, struct kres *res);
void scal_pipe_read(int cpu, struct scal_file *f, u8 *buf, struct kres *res);
void scal_pipe_write(int cpu, struct scal_file *f, const u8 *buf, struct kres *res);

/* scal_vm.c: the radix address spaces and the VM calls. */
void scal_vm_clear(void);
void scal_mmap(int cpu, int pid, s64 va, int fixed, int anon, int writable, int fd, s64 off,
	       struct kres *res);
void scal_munmap(int cpu, int pid, s64 va, struct kres *res);
void scal_mprotect(int cpu, int pid, s64 va, int writable, struct kres *res);
void scal_memread(int cpu, int pid, s64 va, struct kres *res);
void scal_memwrite(int cpu, int pid, s64 va, u8 data, struct kres *res);

/* The planted bug's counter (KUT_PLANT_STAT), in scal_gate.c. */
extern u64 scal_planted_stats;

#endif
