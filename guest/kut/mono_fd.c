/*
 * mono's descriptor tables and the calls on descriptors that neither read
 * nor write: dup2, fstat, lseek, close. Tables are under the FS lock.
 */
#include "mono.h"

/* mono_fd_get returns the description fd of pid refers to, or NULL. */
struct mono_file *mono_fd_get(int pid, int fd)
{
	if (fd < 0 || fd >= KUT_NFD)
		return NULL;
	return mono_procs[pid].fd[fd];
}

/* mono_fd_file returns the description of a regular file that fd of pid
 * refers to; otherwise NULL, with res failed EBADF (no such descriptor)
 * or ESPIPE (a pipe end). The caller holds the file-system lock. */
struct mono_file *mono_fd_file(int pid, int fd, struct kres *res)
{
	struct mono_file *f = mono_fd_get(pid, fd);

	if (!f) {
		mono_fail(res, KUT_EBADF);
		return NULL;
	}
	if (f->type != MONO_F_INODE) {
		mono_fail(res, KUT_ESPIPE);
		return NULL;
	}
	return f;
}

/* mono_fd_lowest returns pid's lowest free descriptor >= from, or -1. */
int mono_fd_lowest(int pid, int from)
{
	int fd;

	for (fd = from; fd < KUT_NFD; fd++)
		if (!mono_procs[pid].fd[fd])
			return fd;
	return -1;
}

/* mono_fd_close_all closes every descriptor of pid (reset). */
void mono_fd_close_all(int pid)
{
	int fd;

	for (fd = 0; fd < KUT_NFD; fd++) {
		struct mono_file *f = mono_procs[pid].fd[fd];

		if (f) {
			mono_procs[pid].fd[fd] = NULL;
			mono_file_put(f);
		}
	}
}

void mono_stat_inode(struct mono_inode *ip, struct kres *res)
{
	res->size = ip->len;
	res->nlink = ip->nlink;
	mono_ok(res, 0);
}

void mono_dup2(int cpu, int spid, int sfd, int dpid, int dfd, struct kres *res)
{
	struct mono_file *f, *old;

	(void)cpu;
	if (mono_bad_pid(spid) || mono_bad_pid(dpid))
		return mono_fail(res, KUT_EINVAL);
	if (dfd < 0 || dfd >= KUT_NFD)
		return mono_fail(res, KUT_EBADF);
	spin_lock(&mono_fs.lock);
	f = mono_fd_get(spid, sfd);
	old = mono_procs[dpid].fd[dfd];
	if (!f) {
		mono_fail(res, KUT_EBADF);
	} else {
		/* Taking the new reference first keeps f alive when old == f. */
		f->ref++;
		mono_procs[dpid].fd[dfd] = f;
		if (old)
			mono_file_put(old);
		mono_ok(res, dfd);
	}
	spin_unlock(&mono_fs.lock);
}

void mono_fstat(int cpu, int pid, int fd, struct kres *res)
{
	struct mono_file *f;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	f = mono_fd_get(pid, fd);
	if (!f) {
		mono_fail(res, KUT_EBADF);
	} else if (f->type == MONO_F_INODE) {
		mono_stat_inode(f->ip, res);
	} else {
		res->fifo = 1;
		mono_ok(res, 0);
	}
	spin_unlock(&mono_fs.lock);
}

/* seek computes the new offset of f; it returns it, or -1 for EINVAL. */
static s64 seek(struct mono_file *f, s64 off, int whence)
{
	s64 base, to;

	if (whence == 0)
		base = 0;
	else if (whence == 1)
		base = f->off;
	else if (whence == 2)
		base = f->ip->len;
	else
		return -1;
	if (__builtin_add_overflow(base, off, &to) || to < 0)
		return -1;
	return to;
}

void mono_lseek(int cpu, int pid, int fd, s64 off, int whence, struct kres *res)
{
	struct mono_file *f;
	s64 to;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	f = mono_fd_file(pid, fd, res);
	if (f) {
		spin_lock(&mono_fs.off_lock);
		to = seek(f, off, whence);
		if (to >= 0)
			f->off = to;
		spin_unlock(&mono_fs.off_lock);
		if (to >= 0)
			mono_ok(res, to);
		else
			mono_fail(res, KUT_EINVAL);
	}
	spin_unlock(&mono_fs.lock);
}

void mono_close(int cpu, int pid, int fd, struct kres *res)
{
	struct mono_file *f;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	f = mono_fd_get(pid, fd);
	if (f) {
		mono_procs[pid].fd[fd] = NULL;
		mono_file_put(f);
		mono_ok(res, 0);
	} else {
		mono_fail(res, KUT_EBADF);
	}
	spin_unlock(&mono_fs.lock);
}
