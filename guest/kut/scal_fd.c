/*
 * scalable's open file descriptions and descriptor tables, and the calls
 * on descriptors.
 *
 * A descriptor slot has its own line: lookups just load its pointer
 * (descriptions are recycled only by scal_reclaim), and changes lock only
 * that slot, so calls on different descriptors of one process share
 * nothing, and each process's table is apart from the other's. Open and
 * pipe still scan from descriptor 0 for the lowest free one, as POSIX
 * requires, reading the slots below it.
 *
 * A file's description counts its descriptors as per-CPU deltas
 * (struct scal_ref), so dup2 and close write only the caller's delta; when
 * the count reaches zero is not observable, and scal_reclaim finds out.
 * A pipe end's description counts its descriptors exactly, under the
 * end's lock, since closing the last one changes what reads and writes
 * of the pipe return.
 */
#include "scal.h"
#include "string.h"

struct scal_file *scal_file_new(int cpu, int type, struct scal_inode *ip, struct scal_pipe *pp)
{
	int idx = scal_pool_get(cpu, SP_FILE);
	struct scal_file *f;

	if (idx < 0)
		return NULL;
	f = &scal.files[idx];
	f->type = type;
	f->ip = ip;
	f->pp = pp;
	f->pos.off = 0;
	f->pos.nfd = 1;
	f->pos.state = SCAL_LIVE;
	if (type == SCAL_F_INODE)
		scal_ref_add(&f->ref, cpu, 1);
	return f;
}

void scal_file_clear(struct scal_file *f)
{
	scal_ref_clear(&f->ref);
	f->type = 0;
	f->ip = NULL;
	f->pp = NULL;
	f->pos.seq = 0;
	f->pos.off = 0;
	f->pos.nfd = 0;
	f->pos.state = SCAL_FREE;
}

/* scal_file_release recycles a description no descriptor refers to (from
 * scal_reclaim), dropping a file's reference to its inode. */
void scal_file_release(int cpu, struct scal_file *f)
{
	if (f->pos.state == SCAL_LIVE && f->type == SCAL_F_INODE)
		scal_ref_add(&f->ip->ref, cpu, -1);
	scal_file_clear(f);
	scal_pool_put(cpu, SP_FILE, f->index);
}

/* scal_file_discard frees a file's description that was never installed. */
void scal_file_discard(int cpu, struct scal_file *f) { scal_file_release(cpu, f); }

static void file_hold(int cpu, struct scal_file *f)
{
	if (f->type == SCAL_F_INODE)
		scal_ref_add(&f->ref, cpu, 1);
	else
		scal_pipe_hold(f);
}

/* scal_file_drop drops one descriptor's reference. */
void scal_file_drop(int cpu, struct scal_file *f)
{
	if (f->type == SCAL_F_INODE)
		scal_ref_add(&f->ref, cpu, -1);
	else
		scal_pipe_drop(f);
}

static struct scal_fdslot *slot_of(int pid, int fd) { return &scal.fdtab[pid]->slot[fd]; }

struct scal_file *scal_fd_get(int pid, int fd)
{
	if (scal_bad_pid(pid) || scal_bad_fd(fd))
		return NULL;
	return __atomic_load_n(&slot_of(pid, fd)->file, __ATOMIC_ACQUIRE);
}

/* scal_fd_install puts f in pid's lowest free descriptor and returns it,
 * or -1 when all are taken. Only the slot taken is written. */
int scal_fd_install(int pid, struct scal_file *f)
{
	for (int fd = 0; fd < KUT_NFD; fd++) {
		struct scal_fdslot *s = slot_of(pid, fd);
		if (__atomic_load_n(&s->file, __ATOMIC_ACQUIRE))
			continue;
		spin_lock(&s->lock);
		if (!s->file) {
			__atomic_store_n(&s->file, f, __ATOMIC_RELEASE);
			spin_unlock(&s->lock);
			return fd;
		}
		spin_unlock(&s->lock);
	}
	return -1;
}

void scal_fd_uninstall(int pid, int fd)
{
	struct scal_fdslot *s = slot_of(pid, fd);

	spin_lock(&s->lock);
	__atomic_store_n(&s->file, NULL, __ATOMIC_RELEASE);
	spin_unlock(&s->lock);
}

/* scal_fd_clear empties both tables (reset). */
void scal_fd_clear(void)
{
	for (int p = 0; p < KUT_NPROC; p++)
		for (int fd = 0; fd < KUT_NFD; fd++)
			if (scal.fdtab[p]->slot[fd].file)
				scal.fdtab[p]->slot[fd].file = NULL;
}

void scal_dup2(int cpu, int spid, int sfd, int dpid, int dfd, struct kres *res)
{
	struct scal_fdslot *s, *d;
	struct scal_file *f, *old;

	if (scal_bad_pid(spid) || scal_bad_pid(dpid))
		return scal_fail(res, KUT_EINVAL);
	if (scal_bad_fd(sfd) || scal_bad_fd(dfd))
		return scal_fail(res, KUT_EBADF);
	/* The source slot's lock keeps its description's count from
	 * dropping to zero before the new reference is taken. */
	s = slot_of(spid, sfd);
	spin_lock(&s->lock);
	f = s->file;
	if (!f) {
		spin_unlock(&s->lock);
		return scal_fail(res, KUT_EBADF);
	}
	if (spid == dpid && sfd == dfd) {
		spin_unlock(&s->lock);
		return scal_ok(res, dfd);
	}
	file_hold(cpu, f);
	spin_unlock(&s->lock);
	d = slot_of(dpid, dfd);
	spin_lock(&d->lock);
	old = d->file;
	__atomic_store_n(&d->file, f, __ATOMIC_RELEASE);
	spin_unlock(&d->lock);
	if (old)
		scal_file_drop(cpu, old);
	scal_ok(res, dfd);
}

void scal_close(int cpu, int pid, int fd, struct kres *res)
{
	struct scal_fdslot *s;
	struct scal_file *f;

	if (scal_bad_pid(pid))
		return scal_fail(res, KUT_EINVAL);
	if (scal_bad_fd(fd) || !scal_fd_get(pid, fd))
		return scal_fail(res, KUT_EBADF);
	s = slot_of(pid, fd);
	spin_lock(&s->lock);
	f = s->file;
	if (f)
		__atomic_store_n(&s->file, NULL, __ATOMIC_RELEASE);
	spin_unlock(&s->lock);
	if (!f)
		return scal_fail(res, KUT_EBADF);
	scal_file_drop(cpu, f);
	scal_ok(res, 0);
}

/* lookup_fd returns pid's description at fd, or NULL having failed res. */
static struct scal_file *lookup_fd(int pid, int fd, struct kres *res)
{
	struct scal_file *f;

	if (scal_bad_pid(pid)) {
		scal_fail(res, KUT_EINVAL);
		return NULL;
	}
	f = scal_fd_get(pid, fd);
	if (!f)
		scal_fail(res, KUT_EBADF);
	return f;
}

void scal_fstat(int cpu, int pid, int fd, struct kres *res)
{
	struct scal_file *f = lookup_fd(pid, fd, res);

	(void)cpu;
	if (!f)
		return;
	if (f->type != SCAL_F_INODE) {
		res->fifo = 1;
		return scal_ok(res, 0);
	}
	scal_inode_stat(f->ip, res);
}

/* seek_to computes lseek's new offset from cur; 0 when it is negative or
 * overflows (EINVAL). */
static int seek_to(struct scal_file *f, s64 cur, s64 off, int whence, s64 *to)
{
	s64 base = whence == 0 ? 0 : whence == 1 ? cur : scal_inode_len(f->ip);

	if (__builtin_add_overflow(base, off, to))
		return 0;
	return *to >= 0;
}

void scal_lseek(int cpu, int pid, int fd, s64 off, int whence, struct kres *res)
{
	struct scal_file *f = lookup_fd(pid, fd, res);
	s64 cur, to;
	int ok;
	u32 s;

	(void)cpu;
	if (!f)
		return;
	if (f->type != SCAL_F_INODE)
		return scal_fail(res, KUT_ESPIPE);
	if (whence < 0 || whence > 2)
		return scal_fail(res, KUT_EINVAL);
	/* A seek that fails, or leaves the offset where it is, writes nothing. */
	s = seq_begin(&f->pos.seq);
	cur = __atomic_load_n(&f->pos.off, __ATOMIC_RELAXED);
	ok = seek_to(f, cur, off, whence, &to);
	if (!seq_retry(&f->pos.seq, s) && (!ok || to == cur))
		return ok ? scal_ok(res, to) : scal_fail(res, KUT_EINVAL);
	spin_lock(&f->pos.lock);
	if (seek_to(f, f->pos.off, off, whence, &to)) {
		seq_write_begin(&f->pos.seq);
		__atomic_store_n(&f->pos.off, to, __ATOMIC_RELAXED);
		seq_write_end(&f->pos.seq);
		spin_unlock(&f->pos.lock);
		return scal_ok(res, to);
	}
	spin_unlock(&f->pos.lock);
	scal_fail(res, KUT_EINVAL);
}

static void read_result(struct kres *res, int got, s64 data)
{
	if (got)
		res->data = data;
	scal_ok(res, got);
}

void scal_read(int cpu, int pid, int fd, u8 *buf, struct kres *res)
{
	struct scal_file *f = lookup_fd(pid, fd, res);
	s64 off, data = 0;
	int got;
	u32 s;

	if (!f)
		return;
	if (f->type != SCAL_F_INODE)
		return scal_pipe_read(cpu, f, buf, res);
	/* At the end of the file a read changes nothing: find that out
	 * without taking the offset lock. */
	s = seq_begin(&f->pos.seq);
	off = __atomic_load_n(&f->pos.off, __ATOMIC_RELAXED);
	got = scal_inode_read(f->ip, off, NULL, &data);
	if (!got && !seq_retry(&f->pos.seq, s))
		return read_result(res, 0, 0);
	spin_lock(&f->pos.lock);
	off = f->pos.off;
	got = scal_inode_read(f->ip, off, buf, &data);
	if (got) {
		seq_write_begin(&f->pos.seq);
		__atomic_store_n(&f->pos.off, off + 1, __ATOMIC_RELAXED);
		seq_write_end(&f->pos.seq);
	}
	spin_unlock(&f->pos.lock);
	read_result(res, got, data);
}

void scal_write(int cpu, int pid, int fd, const u8 *buf, struct kres *res)
{
	struct scal_file *f = lookup_fd(pid, fd, res);
	s64 r;

	if (!f)
		return;
	if (f->type != SCAL_F_INODE)
		return scal_pipe_write(cpu, f, buf, res);
	/* Another CPU may close fd meanwhile; the pin keeps the description
	 * (and so its inode) alive should this write have to reclaim. */
	scal_pin(cpu, f);
	spin_lock(&f->pos.lock);
	r = scal_inode_write(cpu, f->ip, f->pos.off, buf);
	if (r == 1) {
		seq_write_begin(&f->pos.seq);
		__atomic_store_n(&f->pos.off, f->pos.off + 1, __ATOMIC_RELAXED);
		seq_write_end(&f->pos.seq);
	}
	spin_unlock(&f->pos.lock);
	if (r < 0)
		return scal_fail(res, -r);
	scal_ok(res, r);
}

void scal_pread(int cpu, int pid, int fd, s64 off, u8 *buf, struct kres *res)
{
	struct scal_file *f = lookup_fd(pid, fd, res);
	s64 data = 0;
	int got;

	(void)cpu;
	if (!f)
		return;
	if (f->type != SCAL_F_INODE)
		return scal_fail(res, KUT_ESPIPE);
	if (off < 0)
		return scal_fail(res, KUT_EINVAL);
	got = scal_inode_read(f->ip, off, buf, &data);
	read_result(res, got, data);
}

void scal_pwrite(int cpu, int pid, int fd, s64 off, const u8 *buf, struct kres *res)
{
	struct scal_file *f = lookup_fd(pid, fd, res);
	s64 r;

	if (!f)
		return;
	if (f->type != SCAL_F_INODE)
		return scal_fail(res, KUT_ESPIPE);
	scal_pin(cpu, f);
	r = scal_inode_write(cpu, f->ip, off, buf);
	if (r < 0)
		return scal_fail(res, -r);
	scal_ok(res, r);
}
