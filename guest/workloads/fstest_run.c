/*
 * Running one test on the kernel under test: building its setup with the
 * kernel's own calls, as models/testgen/FORMAT.md ("How a harness builds
 * a setup") describes, making a call, and comparing results.
 *
 * Descriptor numbers: 0 .. fd_limit-1 are the test's; the harness keeps
 * its temporary descriptors at TEMP_FD and up, and the unlisted ("hidden")
 * pipe ends at HIDDEN_FD and up, of process 0 and then process 1, so
 * that they never change which descriptor is the lowest free one.
 */
#include "console.h"
#include "fstest.h"
#include "string.h"

#define TEMP_FD 16   /* TF_MAX_INODES + 2 * TF_MAX_PIPES temporaries */
#define HIDDEN_FD 40 /* KUT_NFD - HIDDEN_FD hidden ends per process */

_Static_assert(TEMP_FD >= TF_MAX_FD_LIMIT, "temporaries must not collide with test descriptors");
_Static_assert(TEMP_FD + TF_MAX_INODES + 2 * TF_MAX_PIPES <= HIDDEN_FD, "temporaries overlap hidden ends");

/* Names: f<k> for the test's names, t<i> for inode i's temporary name,
 * h<i>.<j> for its hidden links (no f<k> collides with them). */
static void name_f(char *buf, s64 k) { ksnprintf(buf, KUT_NAME_MAX + 1, "f%ld", k); }
static void name_t(char *buf, int i) { ksnprintf(buf, KUT_NAME_MAX + 1, "t%d", i); }
static void name_h(char *buf, int i, int j) { ksnprintf(buf, KUT_NAME_MAX + 1, "h%d.%d", i, j); }

/* The unit of data value v: the value, then zeros. */
static void fill_unit(u8 *buf, s64 v)
{
	memset(buf, 0, KUT_UNIT);
	buf[0] = (u8)v;
}

struct builder {
	const struct kut_ops *k;
	int cpu;
	char *err;
	u8 *buf;
	int hidden[KUT_NPROC]; /* hidden ends placed per process */
};

static struct kres fresh(void)
{
	struct kres r;
	memset(&r, 0, sizeof r);
	return r;
}

static int failed(struct builder *b, const char *what, const struct kres *r)
{
	ksnprintf(b->err, TF_ERR_MAX, "setup: %s returned %ld (errno %ld)", what, r->r, r->err);
	return -1;
}

/* place moves descriptor fd of pid to number want (of process dpid). */
static int place(struct builder *b, int pid, int fd, int dpid, int want)
{
	struct kres r = fresh();
	if (pid == dpid && fd == want)
		return 0;
	b->k->dup2(b->cpu, pid, fd, dpid, want, &r);
	if (r.r != want)
		return failed(b, "dup2", &r);
	r = fresh();
	b->k->close(b->cpu, pid, fd, &r);
	return r.r == 0 ? 0 : failed(b, "close", &r);
}

/* open_at opens name in pid at descriptor want, at offset off units. */
static int open_at(struct builder *b, int pid, const char *name, int want, s64 off)
{
	struct kres r = fresh();
	b->k->open(b->cpu, pid, name, 0, &r);
	if (r.r < 0)
		return failed(b, "open", &r);
	int fd = (int)r.r;
	if (off) {
		r = fresh();
		b->k->lseek(b->cpu, pid, fd, off, 0, &r);
		if (r.r != off)
			return failed(b, "lseek", &r);
	}
	return place(b, pid, fd, pid, want);
}

static int write_units(struct builder *b, int fd, const u8 *data, s64 len)
{
	for (s64 i = 0; i < len; i++) {
		struct kres r = fresh();
		fill_unit(b->buf, data[i]);
		b->k->write(b->cpu, 0, fd, b->buf, &r);
		if (r.r != 1)
			return failed(b, "write", &r);
	}
	return 0;
}

static int link_name(struct builder *b, const char *tmp, const char *name)
{
	struct kres r = fresh();
	b->k->link(b->cpu, 0, tmp, name, &r);
	return r.r == 0 ? 0 : failed(b, "link", &r);
}

/* make_inode creates inode i with its data and links, its temporary name
 * left in place and its temporary descriptor at TEMP_FD + i. */
static int make_inode(struct builder *b, const struct tf_test *t, int i)
{
	const struct tf_inode *in = &t->inodes[i];
	char tmp[KUT_NAME_MAX + 1], name[KUT_NAME_MAX + 1];
	struct kres r = fresh();
	name_t(tmp, i);
	b->k->open(b->cpu, 0, tmp, KUT_O_CREAT | KUT_O_EXCL, &r);
	if (r.r < 0)
		return failed(b, "open", &r);
	if (place(b, 0, (int)r.r, 0, TEMP_FD + i) < 0 || write_units(b, TEMP_FD + i, in->data, in->len) < 0)
		return -1;
	int links = 0;
	for (int j = 0; j < t->nnames; j++) {
		if (t->names[j].ino != in->ino)
			continue;
		name_f(name, t->names[j].name);
		if (link_name(b, tmp, name) < 0)
			return -1;
		links++;
	}
	for (int j = links; j < in->nlink; j++) {
		name_h(name, i, j);
		if (link_name(b, tmp, name) < 0)
			return -1;
	}
	return 0;
}

/* make_pipe creates pipe i holding its data, its read end at temporary
 * TEMP_FD + TF_MAX_INODES + 2i and its write end just after. */
static int make_pipe(struct builder *b, const struct tf_test *t, int i)
{
	int at = TEMP_FD + TF_MAX_INODES + 2 * i;
	struct kres r = fresh();
	b->k->pipe(b->cpu, 0, &r);
	if (r.r != 0)
		return failed(b, "pipe", &r);
	int wfd = (int)r.fd1;
	if (place(b, 0, (int)r.fd0, 0, at) < 0 || place(b, 0, wfd, 0, at + 1) < 0)
		return -1;
	for (s64 u = 0; u < t->pipes[i].len; u++) {
		r = fresh();
		fill_unit(b->buf, t->pipes[i].data[u]);
		b->k->write(b->cpu, 0, at + 1, b->buf, &r);
		if (r.r != 1)
			return failed(b, "write to a pipe", &r);
	}
	return 0;
}

static int inode_index(const struct tf_test *t, s64 ino)
{
	for (int i = 0; i < t->ninodes; i++)
		if (t->inodes[i].ino == ino)
			return i;
	return -1;
}

static int pipe_index(const struct tf_test *t, s64 id)
{
	for (int i = 0; i < t->npipes; i++)
		if (t->pipes[i].id == id)
			return i;
	return -1;
}

static int dup_to(struct builder *b, int sfd, int dpid, int dfd)
{
	struct kres r = fresh();
	b->k->dup2(b->cpu, 0, sfd, dpid, dfd, &r);
	return r.r == dfd ? 0 : failed(b, "dup2", &r);
}

/* hide_end keeps one more descriptor of a pipe end open, out of sight. */
static int hide_end(struct builder *b, int sfd)
{
	for (int pid = 0; pid < KUT_NPROC; pid++)
		if (b->hidden[pid] < KUT_NFD - HIDDEN_FD)
			return dup_to(b, sfd, pid, HIDDEN_FD + b->hidden[pid]++);
	ksnprintf(b->err, TF_ERR_MAX, "setup: more hidden pipe ends than the harness has descriptors for");
	return -1;
}

static int make_fds(struct builder *b, const struct tf_test *t)
{
	char tmp[KUT_NAME_MAX + 1];
	for (int i = 0; i < t->nfds; i++) {
		const struct tf_fd *f = &t->fds[i];
		if (f->is_pipe) {
			int at = TEMP_FD + TF_MAX_INODES + 2 * pipe_index(t, f->pipe) + (int)f->writer;
			if (dup_to(b, at, (int)f->pid, (int)f->fd) < 0)
				return -1;
			continue;
		}
		name_t(tmp, inode_index(t, f->ino));
		if (open_at(b, (int)f->pid, tmp, (int)f->fd, f->off) < 0)
			return -1;
	}
	for (int i = 0; i < t->npipes; i++) {
		const struct tf_pipe *q = &t->pipes[i];
		s64 listed[2] = {0, 0};
		for (int j = 0; j < t->nfds; j++)
			if (t->fds[j].is_pipe && t->fds[j].pipe == q->id)
				listed[t->fds[j].writer]++;
		int at = TEMP_FD + TF_MAX_INODES + 2 * i;
		for (s64 n = listed[0]; n < q->readers; n++)
			if (hide_end(b, at) < 0)
				return -1;
		for (s64 n = listed[1]; n < q->writers; n++)
			if (hide_end(b, at + 1) < 0)
				return -1;
	}
	return 0;
}

static int make_map(struct builder *b, const struct tf_test *t, const struct tf_map *m)
{
	struct kres r = fresh();
	int pid = (int)m->pid;
	if (m->anon) {
		b->k->mmap(b->cpu, pid, m->va, 1, 1, 1, -1, 0, &r);
		if (r.r != 0)
			return failed(b, "mmap", &r);
		if (m->data) {
			r = fresh();
			b->k->memwrite(b->cpu, pid, m->va, (u8)m->data, &r);
			if (r.signal != 0)
				return failed(b, "memwrite", &r);
		}
		if (!m->writable) {
			r = fresh();
			b->k->mprotect(b->cpu, pid, m->va, 0, &r);
			if (r.r != 0)
				return failed(b, "mprotect", &r);
		}
		return 0;
	}
	char tmp[KUT_NAME_MAX + 1];
	name_t(tmp, inode_index(t, m->ino));
	b->k->open(b->cpu, pid, tmp, 0, &r);
	if (r.r < 0)
		return failed(b, "open", &r);
	int fd = (int)r.r;
	r = fresh();
	b->k->mmap(b->cpu, pid, m->va, 1, 0, (int)m->writable, fd, m->off, &r);
	if (r.r != 0)
		return failed(b, "mmap", &r);
	r = fresh();
	b->k->close(b->cpu, pid, fd, &r);
	return r.r == 0 ? 0 : failed(b, "close", &r);
}

/* finish drops the harness's own names and descriptors. */
static int finish(struct builder *b, const struct tf_test *t)
{
	char tmp[KUT_NAME_MAX + 1];
	for (int i = 0; i < t->ninodes; i++) {
		struct kres r = fresh();
		name_t(tmp, i);
		b->k->unlink(b->cpu, 0, tmp, &r);
		if (r.r != 0)
			return failed(b, "unlink", &r);
	}
	for (int fd = TEMP_FD; fd < TEMP_FD + t->ninodes; fd++) {
		struct kres r = fresh();
		b->k->close(b->cpu, 0, fd, &r);
		if (r.r != 0)
			return failed(b, "close", &r);
	}
	for (int i = 0; i < 2 * t->npipes; i++) {
		struct kres r = fresh();
		b->k->close(b->cpu, 0, TEMP_FD + TF_MAX_INODES + i, &r);
		if (r.r != 0)
			return failed(b, "close", &r);
	}
	return 0;
}

int tf_setup(const struct kut_ops *k, int cpu, const struct tf_test *t, u8 *buf, char *err)
{
	struct builder b = {.k = k, .cpu = cpu, .err = err, .buf = buf};
	k->reset();
	for (int i = 0; i < t->ninodes; i++)
		if (make_inode(&b, t, i) < 0)
			return -1;
	for (int i = 0; i < t->npipes; i++)
		if (make_pipe(&b, t, i) < 0)
			return -1;
	if (make_fds(&b, t) < 0)
		return -1;
	for (int i = 0; i < t->nmaps; i++)
		if (make_map(&b, t, &t->maps[i]) < 0)
			return -1;
	return finish(&b, t);
}

static void set(struct tf_fields *f, int k, s64 v)
{
	f->has |= 1u << k;
	f->v[k] = v;
}

/* fields turns a kernel result into the fields the format expects of the
 * call (FORMAT.md, "Expected results"). */
static void fields(const struct tf_call *c, const struct kres *r, struct tf_fields *f)
{
	memset(f, 0, sizeof *f);
	if (c->kind == TC_MEMREAD || c->kind == TC_MEMWRITE) {
		set(f, TR_SIGNAL, r->signal);
		if (c->kind == TC_MEMREAD && r->signal == 0)
			set(f, TR_DATA, r->data);
		return;
	}
	set(f, TR_R, r->r);
	if (r->r < 0) {
		set(f, TR_ERRNO, r->err);
		return;
	}
	switch (c->kind) {
	case TC_STAT:
	case TC_FSTAT:
		if (r->fifo) {
			set(f, TR_FIFO, 1);
		} else {
			set(f, TR_SIZE, r->size);
			set(f, TR_NLINK, r->nlink);
		}
		break;
	case TC_PIPE:
		set(f, TR_FD0, r->fd0);
		set(f, TR_FD1, r->fd1);
		break;
	case TC_READ:
	case TC_PREAD:
		if (r->r == 1)
			set(f, TR_DATA, r->data);
		break;
	case TC_MMAP:
		if (c->arg[TA_FIXED])
			set(f, TR_VA, r->va);
		break;
	}
}

static void name_arg(char *buf, const struct tf_call *c, int a) { name_f(buf, c->arg[a]); }

void tf_call(const struct kut_ops *k, int cpu, const struct tf_test *t, int slot, u8 *buf, struct tf_fields *got)
{
	const struct tf_call *c = &t->calls[slot];
	const s64 *a = c->arg;
	int pid = (int)a[TA_PID], fd = (int)a[TA_FD];
	char n1[KUT_NAME_MAX + 1], n2[KUT_NAME_MAX + 1];
	struct kres r = fresh();
	switch (c->kind) {
	case TC_OPEN: {
		int flags = (a[TA_CREAT] ? KUT_O_CREAT : 0) | (a[TA_EXCL] ? KUT_O_EXCL : 0) | (a[TA_TRUNC] ? KUT_O_TRUNC : 0);
		name_arg(n1, c, TA_PN);
		k->open(cpu, pid, n1, flags, &r);
		break;
	}
	case TC_LINK:
		name_arg(n1, c, TA_OLD);
		name_arg(n2, c, TA_NEW);
		k->link(cpu, pid, n1, n2, &r);
		break;
	case TC_UNLINK:
		name_arg(n1, c, TA_PN);
		k->unlink(cpu, pid, n1, &r);
		break;
	case TC_RENAME:
		name_arg(n1, c, TA_SRC);
		name_arg(n2, c, TA_DST);
		k->rename(cpu, pid, n1, n2, &r);
		break;
	case TC_STAT:
		name_arg(n1, c, TA_PN);
		k->stat(cpu, pid, n1, &r);
		break;
	case TC_FSTAT:
		k->fstat(cpu, pid, fd, &r);
		break;
	case TC_LSEEK:
		k->lseek(cpu, pid, fd, a[TA_OFF], (int)a[TA_WHENCE], &r);
		break;
	case TC_CLOSE:
		k->close(cpu, pid, fd, &r);
		break;
	case TC_PIPE:
		k->pipe(cpu, pid, &r);
		break;
	case TC_READ:
		k->read(cpu, pid, fd, buf, &r);
		break;
	case TC_WRITE:
		fill_unit(buf, a[TA_DATA]);
		k->write(cpu, pid, fd, buf, &r);
		break;
	case TC_PREAD:
		k->pread(cpu, pid, fd, a[TA_OFF], buf, &r);
		break;
	case TC_PWRITE:
		fill_unit(buf, a[TA_DATA]);
		k->pwrite(cpu, pid, fd, a[TA_OFF], buf, &r);
		break;
	case TC_MMAP:
		k->mmap(cpu, pid, a[TA_VA], (int)a[TA_FIXED], (int)a[TA_ANON], (int)a[TA_WRITABLE],
			a[TA_ANON] ? -1 : fd, a[TA_OFF], &r);
		break;
	case TC_MUNMAP:
		k->munmap(cpu, pid, a[TA_VA], &r);
		break;
	case TC_MPROTECT:
		k->mprotect(cpu, pid, a[TA_VA], (int)a[TA_WRITABLE], &r);
		break;
	case TC_MEMREAD:
		k->memread(cpu, pid, a[TA_VA], &r);
		break;
	case TC_MEMWRITE:
		k->memwrite(cpu, pid, a[TA_VA], (u8)a[TA_DATA], &r);
		break;
	}
	fields(c, &r, got);
}

/* describe writes fields as "k=v k=v" in the format's key order. */
static void describe(char *buf, size_t cap, const struct tf_fields *f)
{
	size_t at = 0;
	buf[0] = 0;
	for (int k = 0; k < TR_NRESULTS && at + 1 < cap; k++)
		if (f->has & (1u << k))
			at += ksnprintf(buf + at, cap - at, "%s%s=%ld", at ? " " : "", tf_result_names[k], f->v[k]);
}

int tf_check(const struct tf_test *t, const struct tf_fields *got)
{
	int bad = 0;
	for (int s = 0; s < t->ncalls; s++) {
		const struct tf_fields *e = &t->expect[s];
		int same = e->has == got[s].has;
		for (int k = 0; same && k < TR_NRESULTS; k++)
			if ((e->has & (1u << k)) && e->v[k] != got[s].v[k])
				same = 0;
		if (same)
			continue;
		char g[120], w[120];
		describe(g, sizeof g, &got[s]);
		describe(w, sizeof w, e);
		kprintf("fstest: FAIL test %ld (set %ld): slot %d %s returned %s, expected %s\n", t->id, t->set, s,
			tf_call_names[t->calls[s].kind], g, w);
		bad = 1;
	}
	return bad;
}

void tf_print(const struct tf_test *t, const struct tf_fields *got)
{
	for (int s = 0; s < t->ncalls; s++) {
		char g[120];
		describe(g, sizeof g, &got[s]);
		kprintf("fstest: test %ld slot %d %s: %s\n", t->id, s, tf_call_names[t->calls[s].kind], g);
	}
}
