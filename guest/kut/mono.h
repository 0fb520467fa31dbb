/*
 * mono: the kernel under test written the way a straightforward,
 * unscalable kernel is. One spinlock (mono_fs.lock) covers the whole file
 * system: the directory, inodes, open file descriptions, pipes and the
 * descriptor tables. Inode numbers come from one global counter, the
 * directory is a singly linked list, every description's offset is
 * protected by one shared offset lock, and data pages come from one
 * global free list. Each process's address space has its own lock and a
 * list of mappings (one page each) scanned linearly.
 *
 * Lock order: mono_as.lock, then mono_fs.lock, then mono_fs.off_lock,
 * then mono_fs.page_lock. The FS calls never take an address space lock.
 */
#ifndef MONO_H
#define MONO_H

#include "kut.h"
#include "sync.h"

#define MONO_NVMA 128 /* mappings per process */

/* A data page holds one unit; a free page links the page free list. */
struct mono_page {
	union {
		u8 b[KUT_UNIT];
		struct mono_page *next_free;
	};
};

struct mono_inode {
	u64 ino;   /* from mono_fs.next_ino; 0 while free */
	s32 nlink;
	s32 nfile; /* open descriptions referring to it */
	s32 nmap;  /* mappings referring to it */
	s32 len;   /* units; every unit below len has a page */
	struct mono_page *unit[KUT_MAX_UNITS];
	struct mono_inode *next_free;
};

/* A directory entry: on the directory list, or on the free list. */
struct mono_dirent {
	char name[KUT_NAME_MAX + 1];
	struct mono_inode *ip;
	struct mono_dirent *next;
};

/* A pipe buffer is a ring of up to KUT_MAX_UNITS pages. */
struct mono_pipe {
	s32 readers, writers; /* open descriptions of each end */
	s32 head, count;
	struct mono_page *unit[KUT_MAX_UNITS];
	struct mono_pipe *next_free;
};

enum mono_ftype {
	MONO_F_FREE,
	MONO_F_INODE,
	MONO_F_PIPE_READ,
	MONO_F_PIPE_WRITE,
};

/* An open file description, shared by the descriptors dup2 makes. */
struct mono_file {
	s32 type; /* enum mono_ftype */
	s32 ref;  /* descriptors referring to it */
	s64 off;  /* units; under mono_fs.off_lock */
	struct mono_inode *ip;
	struct mono_pipe *pp;
	struct mono_file *next_free;
};

/* A process's descriptor table, under mono_fs.lock. */
struct mono_proc {
	struct mono_file *fd[KUT_NFD];
};

/* The file system's global lock, counters and free lists. */
struct mono_fs {
	struct spinlock lock;
	struct spinlock off_lock;  /* every description's offset */
	struct spinlock page_lock; /* the page free list and npages */
	u64 next_ino;
	s32 ninodes, nnames, nfiles, npipes, npages; /* in use */
	struct mono_dirent *dir;
	struct mono_inode *free_inodes;
	struct mono_dirent *free_names;
	struct mono_file *free_files;
	struct mono_pipe *free_pipes;
	struct mono_page *free_pages;
};

/* One page mapping: anonymous (private) or a unit of a file (shared). */
struct mono_vma {
	s64 va;
	s32 anon, writable;
	struct mono_inode *ip; /* file: holds ip->nmap */
	s64 off;               /* file: the unit mapped */
	struct mono_page *page; /* anon: NULL until first written */
	struct mono_vma *next;  /* the mapping list, or the free list */
};

/* A process's address space. Aligned so the two processes' locks do not
 * share a cache line: only the FS lock is meant to be shared. */
struct mono_as {
	struct spinlock lock;
	s32 nvmas;
	struct mono_vma *vmas;
	struct mono_vma *free;
} __attribute__((aligned(CACHE_LINE)));

extern struct mono_fs mono_fs;
extern struct mono_proc mono_procs[KUT_NPROC];
extern struct mono_as mono_as[KUT_NPROC];

static inline void mono_ok(struct kres *res, s64 r) { res->r = r; }

static inline void mono_fail(struct kres *res, s64 err)
{
	res->r = -1;
	res->err = err;
}

static inline int mono_bad_pid(int pid) { return pid < 0 || pid >= KUT_NPROC; }

/* mono_pool.c: the pools, allocated and labelled at init. */
void mono_pools_init(void);
void mono_pools_rebuild(void);

/* mono_alloc.c: the pools' allocators. */
struct mono_page *mono_page_alloc(void);
void mono_page_free(struct mono_page *pg);
/* With mono_fs.lock held: */
struct mono_inode *mono_inode_alloc(void);
void mono_inode_release(struct mono_inode *ip);
struct mono_dirent *mono_dirent_alloc(void);
void mono_dirent_free(struct mono_dirent *de);
struct mono_file *mono_file_alloc(void);
void mono_file_put(struct mono_file *f);
struct mono_pipe *mono_pipe_alloc(void);
void mono_pipe_free(struct mono_pipe *pp);

/* mono_dir.c: the directory and the calls that name files. */
void mono_dir_clear(void);
void mono_open(int cpu, int pid, const char *name, int flags, struct kres *res);
void mono_link(int cpu, int pid, const char *old, const char *new_name, struct kres *res);
void mono_unlink(int cpu, int pid, const char *name, struct kres *res);
void mono_rename(int cpu, int pid, const char *src, const char *dst, struct kres *res);
void mono_stat(int cpu, int pid, const char *name, struct kres *res);

/* mono_fd.c: descriptor tables and the calls on descriptors. */
struct mono_file *mono_fd_get(int pid, int fd);
struct mono_file *mono_fd_file(int pid, int fd, struct kres *res);
int mono_fd_lowest(int pid, int from);
void mono_fd_close_all(int pid);
void mono_stat_inode(struct mono_inode *ip, struct kres *res);
void mono_dup2(int cpu, int spid, int sfd, int dpid, int dfd, struct kres *res);
void mono_fstat(int cpu, int pid, int fd, struct kres *res);
void mono_lseek(int cpu, int pid, int fd, s64 off, int whence, struct kres *res);
void mono_close(int cpu, int pid, int fd, struct kres *res);

/* mono_rw.c: reading and writing files (and, through mono_pipe.c, pipes). */
void mono_read(int cpu, int pid, int fd, u8 *buf, struct kres *res);
void mono_write(int cpu, int pid, int fd, const u8 *buf, struct kres *res);
void mono_pread(int cpu, int pid, int fd, s64 off, u8 *buf, struct kres *res);
void mono_pwrite(int cpu, int pid, int fd, s64 off, const u8 *buf, struct kres *res);

/* mono_pipe.c: pipes. The pipe_ calls run with mono_fs.lock held. */
void mono_pipe(int cpu, int pid, struct kres *res);
void mono_pipe_read(struct mono_file *f, u8 *buf, struct kres *res);
void mono_pipe_write(struct mono_file *f, const u8 *buf, struct kres *res);
void mono_pipe_end_closed(struct mono_file *f);

/* mono_vm.c: address spaces and the VM calls. */
void mono_as_clear(int pid);
void mono_mmap(int cpu, int pid, s64 va, int fixed, int anon, int writable, int fd, s64 off,
	       struct kres *res);
void mono_munmap(int cpu, int pid, s64 va, struct kres *res);
void mono_mprotect(int cpu, int pid, s64 va, int writable, struct kres *res);
void mono_memread(int cpu, int pid, s64 va, struct kres *res);
void mono_memwrite(int cpu, int pid, s64 va, u8 data, struct kres *res);

#endif
