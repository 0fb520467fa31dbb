/*
 * fstest: the harness that runs `vmm testgen --model posix` tests on the
 * kernel under test (guest/kut). The parser (fstest_parse.c) reads the
 * test file format of models/testgen/FORMAT.md one test at a time and
 * rejects anything malformed with the line it is on; the runner
 * (fstest_run.c) builds a test's setup with the kernel's own calls, makes
 * one call, and checks results. The fstest workload (fstest.c) and the
 * host program (host/fstest_host.c) drive them.
 */
#ifndef FSTEST_H
#define FSTEST_H

#include "kut.h"
#include "types.h"

/* What one test may hold; a test that needs more is rejected by name. */
#define TF_MAX_CALLS 2
#define TF_MAX_INODES 12
#define TF_MAX_NAMES 24
#define TF_MAX_PIPES 6
#define TF_MAX_FDS 32
#define TF_MAX_MAPS 32
#define TF_MAX_HIDDEN 24   /* unlisted pipe ends kept open */
#define TF_MAX_FD_LIMIT 16 /* descriptors the tests may use: 0 .. fd_limit-1 */
#define TF_MAX_NAME 99999  /* file names f0 .. f99999 */
#define TF_MAX_OFF 4096    /* offsets and lseek distances, in units */
#define TF_ERR_MAX 200

/* The calls, in the order of models/testgen/FORMAT.md. */
enum tf_call_kind {
	TC_OPEN,
	TC_LINK,
	TC_UNLINK,
	TC_RENAME,
	TC_STAT,
	TC_FSTAT,
	TC_LSEEK,
	TC_CLOSE,
	TC_PIPE,
	TC_READ,
	TC_WRITE,
	TC_PREAD,
	TC_PWRITE,
	TC_MMAP,
	TC_MUNMAP,
	TC_MPROTECT,
	TC_MEMREAD,
	TC_MEMWRITE,
	TC_NCALLS,
};

/* Arguments of calls, and result fields, by index (tf_arg_names). */
enum tf_arg {
	TA_PID,
	TA_PN,
	TA_CREAT,
	TA_EXCL,
	TA_TRUNC,
	TA_OLD,
	TA_NEW,
	TA_SRC,
	TA_DST,
	TA_FD,
	TA_OFF,
	TA_WHENCE,
	TA_DATA,
	TA_VA,
	TA_FIXED,
	TA_ANON,
	TA_WRITABLE,
	TA_NARGS,
};

enum tf_result {
	TR_R,
	TR_ERRNO,
	TR_DATA,
	TR_SIZE,
	TR_NLINK,
	TR_FIFO,
	TR_FD0,
	TR_FD1,
	TR_VA,
	TR_SIGNAL,
	TR_NRESULTS,
};

/* A set of result fields and their values; has is a bit per tf_result. */
struct tf_fields {
	u32 has;
	s64 v[TR_NRESULTS];
};

struct tf_call {
	int kind;
	s64 arg[TA_NARGS];
};

struct tf_inode {
	s64 ino, nlink, len;
	u8 data[KUT_MAX_UNITS];
};

struct tf_name {
	s64 name, ino;
};

struct tf_pipe {
	s64 id, readers, writers, len;
	u8 data[KUT_MAX_UNITS];
};

/* A descriptor of the setup: a file (ino, off) or a pipe end (pipe, writer). */
struct tf_fd {
	s64 pid, fd;
	int is_pipe;
	s64 ino, off;
	s64 pipe, writer;
};

struct tf_map {
	s64 pid, va, anon, writable;
	s64 data;     /* anon */
	s64 ino, off; /* file */
};

struct tf_test {
	s64 id, set, path;
	int ninodes, nnames, npipes, nfds, nmaps;
	struct tf_inode inodes[TF_MAX_INODES];
	struct tf_name names[TF_MAX_NAMES];
	struct tf_pipe pipes[TF_MAX_PIPES];
	struct tf_fd fds[TF_MAX_FDS];
	struct tf_map maps[TF_MAX_MAPS];
	int ncalls;
	struct tf_call calls[TF_MAX_CALLS];
	struct tf_fields expect[TF_MAX_CALLS];
};

/* A reader of one test file held in memory. */
struct tf_reader {
	const char *buf;
	size_t len, pos;
	u64 line;          /* of the last line read */
	s64 fd_limit;
	s64 sets, tests;   /* read so far */
	int in_set;        /* between set and summary */
	s64 set_tests;     /* tests of the current set */
	int set_ncalls;
	int set_calls[TF_MAX_CALLS];
	int done;          /* eof read */
	char err[TF_ERR_MAX];
};

extern const char *const tf_call_names[TC_NCALLS];
extern const char *const tf_result_names[TR_NRESULTS];

/*
 * tf_begin reads the file's magic line, model and parameters; tf_next
 * reads the next test into t and returns 1, or returns 0 after the eof
 * record (checking the totals and that nothing follows). Both return -1 on
 * malformed input, with r->err saying what and on which line.
 */
int tf_begin(struct tf_reader *r, const char *buf, size_t len);
int tf_next(struct tf_reader *r, struct tf_test *t);

/* tf_setup resets the kernel and builds t's setup on CPU cpu, with buf a
 * KUT_UNIT-byte buffer; nonzero (with a message of at most TF_ERR_MAX
 * bytes in err) when a kernel call of the setup failed. */
int tf_setup(const struct kut_ops *k, int cpu, const struct tf_test *t, u8 *buf, char *err);

/* tf_call makes call slot of t on CPU cpu, with buf a KUT_UNIT-byte
 * buffer of that CPU, and returns the result fields as the format names
 * them. */
void tf_call(const struct kut_ops *k, int cpu, const struct tf_test *t, int slot, u8 *buf,
	     struct tf_fields *got);

/* tf_check compares what the calls returned with t's expectations; on a
 * mismatch it prints one line naming the test and returns nonzero. */
int tf_check(const struct tf_test *t, const struct tf_fields *got);

/* tf_print prints what each call of t returned, one line per call:
 * "fstest: test <id> slot <i> <call>: k=v ...", keys in the format's
 * order (the Go tests compare these lines with models/posix). */
void tf_print(const struct tf_test *t, const struct tf_fields *got);

#endif
