/*
 * mono's read, write, pread and pwrite: whole units copied between the
 * caller's buffer and the inode's data pages under the FS lock, with the
 * description's offset under the shared offset lock. Pipe ends go to
 * mono_pipe.c.
 */
#include "mono.h"
#include "string.h"

/* file_read copies unit off of ip into buf; it returns the units read,
 * 0 at or past the end of the file. */
static s64 file_read(struct mono_inode *ip, s64 off, u8 *buf, struct kres *res)
{
	struct mono_page *pg;

	if (off >= ip->len)
		return 0;
	pg = ip->unit[off];
	memcpy(buf, pg->b, KUT_UNIT);
	res->data = pg->b[0];
	return 1;
}

/*
 * file_write copies buf into unit off of ip, extending the file when off
 * is at or past its end: the units between the end and off become zero
 * units (a hole, but with real zeroed pages so that every unit below the
 * length has one). It returns 0, or the errno it failed with, having
 * changed nothing.
 */
static int file_write(struct mono_inode *ip, s64 off, const u8 *buf)
{
	struct mono_page *fresh[KUT_MAX_UNITS];
	s32 n, i;

	if (off >= KUT_MAX_UNITS)
		return KUT_EFBIG;
	n = off >= ip->len ? (s32)off - ip->len + 1 : 0;
	for (i = 0; i < n; i++) {
		fresh[i] = mono_page_alloc();
		if (!fresh[i]) {
			while (i-- > 0)
				mono_page_free(fresh[i]);
			return KUT_ENOSPC;
		}
	}
	for (i = 0; i < n; i++)
		ip->unit[ip->len + i] = fresh[i];
	ip->len += n;
	memcpy(ip->unit[off]->b, buf, KUT_UNIT);
	return 0;
}

static void read_locked(struct mono_file *f, u8 *buf, struct kres *res)
{
	s64 r;

	if (f->type != MONO_F_INODE)
		return mono_pipe_read(f, buf, res);
	spin_lock(&mono_fs.off_lock);
	r = file_read(f->ip, f->off, buf, res);
	f->off += r;
	spin_unlock(&mono_fs.off_lock);
	mono_ok(res, r);
}

void mono_read(int cpu, int pid, int fd, u8 *buf, struct kres *res)
{
	struct mono_file *f;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	f = mono_fd_get(pid, fd);
	if (f)
		read_locked(f, buf, res);
	else
		mono_fail(res, KUT_EBADF);
	spin_unlock(&mono_fs.lock);
}

static void write_locked(struct mono_file *f, const u8 *buf, struct kres *res)
{
	int err;

	if (f->type != MONO_F_INODE)
		return mono_pipe_write(f, buf, res);
	spin_lock(&mono_fs.off_lock);
	err = file_write(f->ip, f->off, buf);
	if (!err)
		f->off++;
	spin_unlock(&mono_fs.off_lock);
	if (err)
		mono_fail(res, err);
	else
		mono_ok(res, 1);
}

void mono_write(int cpu, int pid, int fd, const u8 *buf, struct kres *res)
{
	struct mono_file *f;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	f = mono_fd_get(pid, fd);
	if (f)
		write_locked(f, buf, res);
	else
		mono_fail(res, KUT_EBADF);
	spin_unlock(&mono_fs.lock);
}

/* As in Linux, a negative offset fails before the descriptor is looked
 * at, and a pipe fails with ESPIPE whichever end it is. */
void mono_pread(int cpu, int pid, int fd, s64 off, u8 *buf, struct kres *res)
{
	struct mono_file *f;

	(void)cpu;
	if (mono_bad_pid(pid) || off < 0)
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	f = mono_fd_file(pid, fd, res);
	if (f)
		mono_ok(res, file_read(f->ip, off, buf, res));
	spin_unlock(&mono_fs.lock);
}

void mono_pwrite(int cpu, int pid, int fd, s64 off, const u8 *buf, struct kres *res)
{
	struct mono_file *f;
	int err;

	(void)cpu;
	if (mono_bad_pid(pid) || off < 0)
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	f = mono_fd_file(pid, fd, res);
	if (f) {
		err = file_write(f->ip, off, buf);
		if (err)
			mono_fail(res, err);
		else
			mono_ok(res, 1);
	}
	spin_unlock(&mono_fs.lock);
}
