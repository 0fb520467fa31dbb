/*
 * kut_linux: the kernel under test's interface served by the host's own
 * Linux kernel, so that the harness checks the model against a real POSIX
 * implementation (fstest-host linux). Each of the model's two processes
 * is a real process, a worker forked from the harness with an empty
 * descriptor table (so "lowest free descriptor" is Linux's own), its own
 * address space, SIGPIPE ignored, and the working directory the harness
 * made for the test. The harness sends each call to the worker of its
 * process over a socket and gets the result back; descriptors cross
 * between workers (dup2 across processes) by SCM_RIGHTS. Pages are
 * page(va) = PAGE_BASE + va * 4096 in each worker; memread and memwrite
 * catch SIGSEGV and SIGBUS.
 *
 * Only the host build (make -C guest host) has this file; it includes
 * libc, which is why that build uses -iquote for the guest's headers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kut.h"

#define PAGE_BASE 0x200000000UL
#define CTL_FD 1000 /* the worker's end of its socket, out of the tests' way */

enum op {
	OP_OPEN, OP_LINK, OP_UNLINK, OP_RENAME, OP_STAT, OP_FSTAT, OP_LSEEK, OP_CLOSE, OP_PIPE,
	OP_READ, OP_WRITE, OP_PREAD, OP_PWRITE, OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MEMREAD,
	OP_MEMWRITE, OP_DUP2, OP_SENDFD, OP_RECVFD,
};

struct request {
	int op;
	int fd, flags, whence, fixed, anon, writable, dfd;
	s64 off, va;
	u8 data;
	char a[KUT_NAME_MAX + 1], b[KUT_NAME_MAX + 1];
	u8 unit[KUT_UNIT];
};

struct reply {
	struct kres res;
	u8 unit[KUT_UNIT];
};

static struct {
	pid_t pid[KUT_NPROC];
	int sock[KUT_NPROC];
	char dir[64];
	int dirfd;
} lx = {.pid = {-1, -1}, .sock = {-1, -1}, .dirfd = -1};

static void die(const char *what)
{
	fprintf(stderr, "fstest-host linux: %s: %s\n", what, strerror(errno));
	exit(3);
}

/* sendmsg/recvmsg of one message, with at most one descriptor. */
static void xfer_send(int sock, const void *buf, size_t n, int fd)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(ctl, 0, sizeof ctl);
		m.msg_control = ctl;
		m.msg_controllen = sizeof ctl;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	if (sendmsg(sock, &m, 0) != (ssize_t)n)
		die("sendmsg");
}

static int xfer_recv(int sock, void *buf, size_t n)
{
	struct iovec iov = {.iov_base = buf, .iov_len = n};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	ssize_t got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (got == 0)
		exit(0); /* the other side went away */
	if (got != (ssize_t)n)
		die("recvmsg");
	int fd = -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

/* --- the worker: one of the model's processes --- */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_sig;

static void on_fault(int sig)
{
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

static void set_errno_result(struct kres *r, long v)
{
	r->r = v < 0 ? -1 : v;
	if (v < 0)
		r->err = errno;
}

static void do_stat(struct kres *r, int ret, const struct stat *st)
{
	set_errno_result(r, ret);
	if (ret < 0)
		return;
	if (S_ISFIFO(st->st_mode)) {
		r->fifo = 1;
		return;
	}
	r->size = st->st_size / KUT_UNIT;
	r->nlink = (s64)st->st_nlink;
}

static void do_io(struct kres *r, ssize_t n, const u8 *unit)
{
	set_errno_result(r, n < 0 ? -1 : n / KUT_UNIT);
	if (n == KUT_UNIT && unit)
		r->data = unit[0];
}

static void touch(struct kres *r, s64 va, int write, u8 data)
{
	volatile u8 *p = (volatile u8 *)(PAGE_BASE + (u64)va * KUT_UNIT);
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		if (write)
			*p = data;
		else
			r->data = *p;
	}
	r->signal = fault_sig;
}

static void serve(const struct request *q, int fd_in, struct reply *y, int sock)
{
	struct kres *r = &y->res;
	struct stat st;
	void *page = (void *)(PAGE_BASE + (u64)q->va * KUT_UNIT);
	memset(r, 0, sizeof *r);
	switch (q->op) {
	case OP_OPEN: {
		int fl = O_RDWR | ((q->flags & KUT_O_CREAT) ? O_CREAT : 0) | ((q->flags & KUT_O_EXCL) ? O_EXCL : 0) |
			 ((q->flags & KUT_O_TRUNC) ? O_TRUNC : 0);
		set_errno_result(r, open(q->a, fl, 0666));
		break;
	}
	case OP_LINK: set_errno_result(r, link(q->a, q->b)); break;
	case OP_UNLINK: set_errno_result(r, unlink(q->a)); break;
	case OP_RENAME: set_errno_result(r, rename(q->a, q->b)); break;
	case OP_STAT: do_stat(r, stat(q->a, &st), &st); break;
	case OP_FSTAT: do_stat(r, fstat(q->fd, &st), &st); break;
	case OP_LSEEK: {
		off_t o = lseek(q->fd, (off_t)q->off * KUT_UNIT, q->whence);
		set_errno_result(r, o < 0 ? -1 : o / KUT_UNIT);
		break;
	}
	case OP_CLOSE: set_errno_result(r, close(q->fd)); break;
	case OP_PIPE: {
		int p[2];
		set_errno_result(r, pipe2(p, O_NONBLOCK));
		if (r->r == 0)
			r->fd0 = p[0], r->fd1 = p[1];
		break;
	}
	case OP_READ: do_io(r, read(q->fd, y->unit, KUT_UNIT), y->unit); break;
	case OP_WRITE: do_io(r, write(q->fd, q->unit, KUT_UNIT), NULL); break;
	case OP_PREAD: do_io(r, pread(q->fd, y->unit, KUT_UNIT, (off_t)q->off * KUT_UNIT), y->unit); break;
	case OP_PWRITE: do_io(r, pwrite(q->fd, q->unit, KUT_UNIT, (off_t)q->off * KUT_UNIT), NULL); break;
	case OP_MMAP: {
		int prot = PROT_READ | (q->writable ? PROT_WRITE : 0);
		int fl = (q->anon ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED) | (q->fixed ? MAP_FIXED : 0);
		void *at = mmap(q->fixed ? page : NULL, KUT_UNIT, prot, fl, q->anon ? -1 : q->fd, (off_t)q->off * KUT_UNIT);
		set_errno_result(r, at == MAP_FAILED ? -1 : 0);
		if (at != MAP_FAILED)
			r->va = ((u64)at - PAGE_BASE) / KUT_UNIT;
		break;
	}
	case OP_MUNMAP: set_errno_result(r, munmap(page, KUT_UNIT)); break;
	case OP_MPROTECT: set_errno_result(r, mprotect(page, KUT_UNIT, PROT_READ | (q->writable ? PROT_WRITE : 0))); break;
	case OP_MEMREAD: touch(r, q->va, 0, 0); break;
	case OP_MEMWRITE: touch(r, q->va, 1, q->data); break;
	case OP_DUP2: set_errno_result(r, dup2(q->fd, q->dfd)); break;
	case OP_SENDFD:
		/* the descriptor travels with the reply */
		xfer_send(sock, y, sizeof *y, fcntl(q->fd, F_GETFD) < 0 ? -1 : q->fd);
		return;
	case OP_RECVFD:
		/* the received descriptor took the lowest free number, which may
		 * be the one wanted */
		set_errno_result(r, fd_in < 0 ? (errno = EBADF, -1) : dup2(fd_in, q->dfd));
		if (fd_in >= 0 && fd_in != q->dfd)
			close(fd_in);
		break;
	}
	xfer_send(sock, y, sizeof *y, -1);
}

static void worker(void)
{
	static struct request q;
	static struct reply y;
	struct sigaction sa = {.sa_handler = on_fault};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int fd = xfer_recv(CTL_FD, &q, sizeof q);
		serve(&q, fd, &y, CTL_FD);
	}
}

/* --- the harness side --- */

static void stop_workers(void)
{
	for (int p = 0; p < KUT_NPROC; p++) {
		if (lx.pid[p] > 0) {
			close(lx.sock[p]);
			kill(lx.pid[p], SIGKILL);
			waitpid(lx.pid[p], NULL, 0);
		}
		lx.pid[p] = lx.sock[p] = -1;
	}
}

static void start_worker(int p)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(sv[1], CTL_FD) < 0 || fchdir(lx.dirfd) < 0)
			_exit(3);
		close_range(0, CTL_FD - 1, 0);
		close_range(CTL_FD + 1, ~0U, 0);
		worker();
	}
	close(sv[1]);
	lx.pid[p] = pid;
	lx.sock[p] = sv[0];
}

/* empty_dir removes what the last test left in the test directory. */
static void empty_dir(void)
{
	int fd = dup(lx.dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	if (!d)
		die("opendir");
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(lx.dirfd, e->d_name, 0);
	closedir(d);
	lseek(lx.dirfd, 0, SEEK_SET);
}

static void cleanup(void)
{
	stop_workers();
	if (lx.dirfd >= 0) {
		empty_dir();
		rmdir(lx.dir);
	}
}

static int lx_init(int ncpus)
{
	(void)ncpus;
	strcpy(lx.dir, "/tmp/fstest-linux-XXXXXX");
	if (!mkdtemp(lx.dir) || (lx.dirfd = open(lx.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("mkdtemp");
	atexit(cleanup);
	return 0;
}

static void lx_reset(void)
{
	stop_workers();
	empty_dir();
	for (int p = 0; p < KUT_NPROC; p++)
		start_worker(p);
}

static struct request req;
static struct reply rep;

static void call(int pid, struct kres *res)
{
	if (pid < 0 || pid >= KUT_NPROC) {
		res->r = -1;
		res->err = KUT_EINVAL;
		return;
	}
	xfer_send(lx.sock[pid], &req, sizeof req, -1);
	xfer_recv(lx.sock[pid], &rep, sizeof rep);
	*res = rep.res;
}

static void begin(int op)
{
	memset(&req, 0, offsetof(struct request, unit));
	req.op = op;
}

static void names(const char *a, const char *b)
{
	snprintf(req.a, sizeof req.a, "%s", a);
	if (b)
		snprintf(req.b, sizeof req.b, "%s", b);
}

static void lx_dup2(int cpu, int spid, int sfd, int dpid, int dfd, struct kres *res)
{
	(void)cpu;
	if (spid == dpid) {
		begin(OP_DUP2);
		req.fd = sfd;
		req.dfd = dfd;
		call(spid, res);
		return;
	}
	begin(OP_SENDFD);
	req.fd = sfd;
	xfer_send(lx.sock[spid], &req, sizeof req, -1);
	int fd = xfer_recv(lx.sock[spid], &rep, sizeof rep);
	begin(OP_RECVFD);
	req.dfd = dfd;
	xfer_send(lx.sock[dpid], &req, sizeof req, fd);
	if (fd >= 0)
		close(fd);
	xfer_recv(lx.sock[dpid], &rep, sizeof rep);
	*res = rep.res;
}

static void lx_open(int cpu, int pid, const char *name, int flags, struct kres *res)
{
	(void)cpu;
	begin(OP_OPEN);
	names(name, NULL);
	req.flags = flags;
	call(pid, res);
}

static void lx_names(int op, int pid, const char *a, const char *b, struct kres *res)
{
	begin(op);
	names(a, b);
	call(pid, res);
}

static void lx_link(int cpu, int pid, const char *a, const char *b, struct kres *res)
{
	(void)cpu;
	lx_names(OP_LINK, pid, a, b, res);
}

static void lx_unlink(int cpu, int pid, const char *a, struct kres *res)
{
	(void)cpu;
	lx_names(OP_UNLINK, pid, a, NULL, res);
}

static void lx_rename(int cpu, int pid, const char *a, const char *b, struct kres *res)
{
	(void)cpu;
	lx_names(OP_RENAME, pid, a, b, res);
}

static void lx_stat(int cpu, int pid, const char *a, struct kres *res)
{
	(void)cpu;
	lx_names(OP_STAT, pid, a, NULL, res);
}

static void lx_fdop(int op, int pid, int fd, s64 off, struct kres *res)
{
	begin(op);
	req.fd = fd;
	req.off = off;
	call(pid, res);
}

static void lx_fstat(int cpu, int pid, int fd, struct kres *res)
{
	(void)cpu;
	lx_fdop(OP_FSTAT, pid, fd, 0, res);
}

static void lx_lseek(int cpu, int pid, int fd, s64 off, int whence, struct kres *res)
{
	(void)cpu;
	begin(OP_LSEEK);
	req.fd = fd;
	req.off = off;
	req.whence = whence;
	call(pid, res);
}

static void lx_close(int cpu, int pid, int fd, struct kres *res)
{
	(void)cpu;
	lx_fdop(OP_CLOSE, pid, fd, 0, res);
}

static void lx_pipe(int cpu, int pid, struct kres *res)
{
	(void)cpu;
	begin(OP_PIPE);
	call(pid, res);
}

static void lx_read(int cpu, int pid, int fd, u8 *buf, struct kres *res)
{
	(void)cpu;
	lx_fdop(OP_READ, pid, fd, 0, res);
	memcpy(buf, rep.unit, KUT_UNIT);
}

static void lx_pread(int cpu, int pid, int fd, s64 off, u8 *buf, struct kres *res)
{
	(void)cpu;
	lx_fdop(OP_PREAD, pid, fd, off, res);
	memcpy(buf, rep.unit, KUT_UNIT);
}

static void lx_write(int cpu, int pid, int fd, const u8 *buf, struct kres *res)
{
	(void)cpu;
	memcpy(req.unit, buf, KUT_UNIT);
	lx_fdop(OP_WRITE, pid, fd, 0, res);
}

static void lx_pwrite(int cpu, int pid, int fd, s64 off, const u8 *buf, struct kres *res)
{
	(void)cpu;
	memcpy(req.unit, buf, KUT_UNIT);
	lx_fdop(OP_PWRITE, pid, fd, off, res);
}

static void lx_mmap(int cpu, int pid, s64 va, int fixed, int anon, int writable, int fd, s64 off, struct kres *res)
{
	(void)cpu;
	begin(OP_MMAP);
	req.va = va;
	req.fixed = fixed;
	req.anon = anon;
	req.writable = writable;
	req.fd = fd;
	req.off = off;
	call(pid, res);
}

static void lx_vaop(int op, int pid, s64 va, int writable, u8 data, struct kres *res)
{
	begin(op);
	req.va = va;
	req.writable = writable;
	req.data = data;
	call(pid, res);
}

static void lx_munmap(int cpu, int pid, s64 va, struct kres *res)
{
	(void)cpu;
	lx_vaop(OP_MUNMAP, pid, va, 0, 0, res);
}

static void lx_mprotect(int cpu, int pid, s64 va, int writable, struct kres *res)
{
	(void)cpu;
	lx_vaop(OP_MPROTECT, pid, va, writable, 0, res);
}

static void lx_memread(int cpu, int pid, s64 va, struct kres *res)
{
	(void)cpu;
	lx_vaop(OP_MEMREAD, pid, va, 0, 0, res);
}

static void lx_memwrite(int cpu, int pid, s64 va, u8 data, struct kres *res)
{
	(void)cpu;
	lx_vaop(OP_MEMWRITE, pid, va, 0, data, res);
}

const struct kut_ops kut_linux = {
	.name = "linux",
	.init = lx_init,
	.reset = lx_reset,
	.dup2 = lx_dup2,
	.open = lx_open,
	.link = lx_link,
	.unlink = lx_unlink,
	.rename = lx_rename,
	.stat = lx_stat,
	.fstat = lx_fstat,
	.lseek = lx_lseek,
	.close = lx_close,
	.pipe = lx_pipe,
	.read = lx_read,
	.write = lx_write,
	.pread = lx_pread,
	.pwrite = lx_pwrite,
	.mmap = lx_mmap,
	.munmap = lx_munmap,
	.mprotect = lx_mprotect,
	.memread = lx_memread,
	.memwrite = lx_memwrite,
};
