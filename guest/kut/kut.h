/*
 * The kernel under test: a POSIX file system and virtual memory subset
 * (models/posix, models/testgen/FORMAT.md) that the fstest workload runs
 * commutativity tests against. Two implementations share this interface:
 * mono (one big lock, global allocators, a list directory) and scalable
 * (per-object locks, a hashed directory, per-CPU allocation, a radix-tree
 * address space). The harness picks one at boot and calls it through
 * struct kut_ops; every call says which CPU makes it and for which process.
 *
 * Calls may run concurrently on different CPUs: each implementation does
 * its own locking. Units are KUT_UNIT bytes; a unit's value is its first
 * byte (the rest is zero when written by the harness).
 */
#ifndef KUT_H
#define KUT_H

#include "types.h"

#define KUT_UNIT 4096
#define KUT_NPROC 2        /* processes 0 and 1 */
#define KUT_NCPU 8         /* CPUs an implementation keeps per-CPU state for */
#define KUT_NFD 64         /* descriptors per process: 0 .. KUT_NFD-1 */
#define KUT_NAME_MAX 15    /* longest file name, without the NUL */
#define KUT_MAX_INODES 64  /* inodes alive at once */
#define KUT_MAX_NAMES 64   /* directory entries at once */
#define KUT_MAX_FILES 128  /* open file descriptions at once */
#define KUT_MAX_PIPES 16   /* pipes alive at once */
#define KUT_MAX_UNITS 16   /* units per file or per pipe buffer */
#define KUT_MAX_PAGES 256  /* data pages (file units, anonymous pages) at once */
#define KUT_VA_PAGES 1024  /* page numbers 0 .. KUT_VA_PAGES-1 may be mapped */

/* Linux x86-64 errno and signal numbers, as the test format uses them. */
#define KUT_ENOENT 2
#define KUT_EBADF 9
#define KUT_EAGAIN 11
#define KUT_ENOMEM 12
#define KUT_EACCES 13
#define KUT_EEXIST 17
#define KUT_ENODEV 19
#define KUT_EINVAL 22
#define KUT_EMFILE 24
#define KUT_EFBIG 27
#define KUT_ENOSPC 28
#define KUT_ESPIPE 29
#define KUT_EPIPE 32
#define KUT_SIGBUS 7
#define KUT_SIGSEGV 11

/* open flags (the model's; every open is O_RDWR). */
#define KUT_O_CREAT 1
#define KUT_O_EXCL 2
#define KUT_O_TRUNC 4

/*
 * struct kres is one call's result. r is the return value (-1 on
 * failure, with err the errno); the other fields are set by the calls
 * that return them and are otherwise left as the caller initialised them.
 */
struct kres {
	s64 r;
	s64 err;
	s64 data;      /* read, pread (when r == 1), memread (when signal == 0) */
	s64 size;      /* stat, fstat of a file: length in units */
	s64 nlink;     /* stat, fstat of a file */
	s64 fifo;      /* stat, fstat: 1 for a pipe */
	s64 fd0, fd1;  /* pipe: read and write descriptors */
	s64 va;        /* mmap: the page mapped */
	s64 signal;    /* memread, memwrite: 0, KUT_SIGSEGV or KUT_SIGBUS */
};

struct kut_ops {
	const char *name;
	/* init runs once, on CPU 0 before any other call; nonzero fails. */
	int (*init)(int ncpus);
	/* reset empties the kernel: no names, inodes, pipes, descriptors or
	 * mappings. Only CPU 0 calls it, with no other call running. */
	void (*reset)(void);
	/*
	 * dup2 makes descriptor dfd of process dpid refer to the open file
	 * (or pipe end) that descriptor sfd of process spid refers to, closing
	 * whatever dfd held (like dup2 across processes, as descriptor passing
	 * does). The harness uses it to build setups; r is dfd or -1 (EBADF).
	 */
	void (*dup2)(int cpu, int spid, int sfd, int dpid, int dfd, struct kres *res);

	/* The model's calls; names are NUL-terminated, at most KUT_NAME_MAX. */
	void (*open)(int cpu, int pid, const char *name, int flags, struct kres *res);
	void (*link)(int cpu, int pid, const char *old, const char *new_name, struct kres *res);
	void (*unlink)(int cpu, int pid, const char *name, struct kres *res);
	void (*rename)(int cpu, int pid, const char *src, const char *dst, struct kres *res);
	void (*stat)(int cpu, int pid, const char *name, struct kres *res);
	void (*fstat)(int cpu, int pid, int fd, struct kres *res);
	/* off counts units; whence is 0 SEEK_SET, 1 SEEK_CUR, 2 SEEK_END. */
	void (*lseek)(int cpu, int pid, int fd, s64 off, int whence, struct kres *res);
	void (*close)(int cpu, int pid, int fd, struct kres *res);
	void (*pipe)(int cpu, int pid, struct kres *res);
	/* read and pread copy one unit into buf (KUT_UNIT bytes); write and
	 * pwrite copy one unit from buf. */
	void (*read)(int cpu, int pid, int fd, u8 *buf, struct kres *res);
	void (*write)(int cpu, int pid, int fd, const u8 *buf, struct kres *res);
	void (*pread)(int cpu, int pid, int fd, s64 off, u8 *buf, struct kres *res);
	void (*pwrite)(int cpu, int pid, int fd, s64 off, const u8 *buf, struct kres *res);
	/* mmap maps one page: at page va when fixed, else at a free page of
	 * the implementation's choice; anonymous memory (MAP_PRIVATE) or unit
	 * off of fd's file (MAP_SHARED); read-only or read-write. */
	void (*mmap)(int cpu, int pid, s64 va, int fixed, int anon, int writable, int fd, s64 off,
		     struct kres *res);
	void (*munmap)(int cpu, int pid, s64 va, struct kres *res);
	void (*mprotect)(int cpu, int pid, s64 va, int writable, struct kres *res);
	/* memread loads, and memwrite stores, the first byte of page va, going
	 * through the process's page table: signal is SIGSEGV for an unmapped
	 * page (or a write to a read-only one), SIGBUS past the end of a file. */
	void (*memread)(int cpu, int pid, s64 va, struct kres *res);
	void (*memwrite)(int cpu, int pid, s64 va, u8 data, struct kres *res);
};

extern const struct kut_ops kut_mono, kut_scalable;

/*
 * Planted bugs, to show that the sharing report finds them (fstest's
 * plant=stat argument, vmm check --plant stat); set before init.
 * KUT_PLANT_STAT makes scalable's stat increment one global counter,
 * scal_planted_stats, which every other call of scalable reads: each
 * pair of calls with a stat in it then shares that line, no other pair.
 */
#define KUT_PLANT_STAT 1u
extern u32 kut_plants;

#endif
