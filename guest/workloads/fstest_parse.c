/*
 * The test file parser: models/testgen/FORMAT.md, version 1, POSIX model,
 * one test at a time out of a buffer. It checks everything the Go reader
 * checks that a run depends on (lexical rules, record order, ids, counts,
 * the setup's references and ranges) and says which line is wrong.
 */
#include "console.h"
#include "fstest.h"
#include "string.h"

#define MAX_LINE 4096
#define MAX_FIELDS 256
#define MAX_IDENT 64

const char *const tf_call_names[TC_NCALLS] = {
	"open", "link", "unlink", "rename", "stat", "fstat", "lseek", "close", "pipe",
	"read", "write", "pread", "pwrite", "mmap", "munmap", "mprotect", "memread", "memwrite",
};

static const char *const arg_names[TA_NARGS] = {
	"pid", "pn", "creat", "excl", "trunc", "old", "new", "src", "dst",
	"fd", "off", "whence", "data", "va", "fixed", "anon", "writable",
};

const char *const tf_result_names[TR_NRESULTS] = {
	"r", "errno", "data", "size", "nlink", "fifo", "fd0", "fd1", "va", "signal",
};

#define A(x) (1u << TA_##x)
/* The arguments of each call (FORMAT.md, "Calls"). */
static const u32 call_args[TC_NCALLS] = {
	[TC_OPEN] = A(PID) | A(PN) | A(CREAT) | A(EXCL) | A(TRUNC),
	[TC_LINK] = A(PID) | A(OLD) | A(NEW),
	[TC_UNLINK] = A(PID) | A(PN),
	[TC_RENAME] = A(PID) | A(SRC) | A(DST),
	[TC_STAT] = A(PID) | A(PN),
	[TC_FSTAT] = A(PID) | A(FD),
	[TC_LSEEK] = A(PID) | A(FD) | A(OFF) | A(WHENCE),
	[TC_CLOSE] = A(PID) | A(FD),
	[TC_PIPE] = A(PID),
	[TC_READ] = A(PID) | A(FD),
	[TC_WRITE] = A(PID) | A(FD) | A(DATA),
	[TC_PREAD] = A(PID) | A(FD) | A(OFF),
	[TC_PWRITE] = A(PID) | A(FD) | A(OFF) | A(DATA),
	[TC_MMAP] = A(PID) | A(VA) | A(FIXED) | A(ANON) | A(WRITABLE) | A(FD) | A(OFF),
	[TC_MUNMAP] = A(PID) | A(VA),
	[TC_MPROTECT] = A(PID) | A(VA) | A(WRITABLE),
	[TC_MEMREAD] = A(PID) | A(VA),
	[TC_MEMWRITE] = A(PID) | A(VA) | A(DATA),
};
#undef A

#define R(x) (1u << TR_##x)
#define SYS (R(R) | R(ERRNO))
/* The result fields each call's expect record may hold. */
static const u32 call_results[TC_NCALLS] = {
	[TC_OPEN] = SYS, [TC_LINK] = SYS, [TC_UNLINK] = SYS, [TC_RENAME] = SYS,
	[TC_STAT] = SYS | R(SIZE) | R(NLINK) | R(FIFO), [TC_FSTAT] = SYS | R(SIZE) | R(NLINK) | R(FIFO),
	[TC_LSEEK] = SYS, [TC_CLOSE] = SYS, [TC_PIPE] = SYS | R(FD0) | R(FD1),
	[TC_READ] = SYS | R(DATA), [TC_WRITE] = SYS, [TC_PREAD] = SYS | R(DATA), [TC_PWRITE] = SYS,
	[TC_MMAP] = SYS | R(VA), [TC_MUNMAP] = SYS, [TC_MPROTECT] = SYS,
	[TC_MEMREAD] = R(SIGNAL) | R(DATA), [TC_MEMWRITE] = R(SIGNAL),
};
#undef SYS
#undef R

/* One record: its keyword and fields, pointing into the file. */
struct field {
	const char *key, *val;
	int klen, vlen;
	int is_int;
	s64 n;
};

struct record {
	const char *kw;
	int kwlen;
	int nfields;
	struct field f[MAX_FIELDS];
};

/* The reader's current record; the parser is not reentrant per reader
 * but holds no state of its own beyond it. */
struct parse {
	struct tf_reader *r;
	struct record rec;
};

static int fail(struct tf_reader *r, const char *what, const char *detail)
{
	ksnprintf(r->err, sizeof r->err, "line %lu: %s%s", r->line, what, detail ? detail : "");
	return -1;
}

static int failn(struct tf_reader *r, const char *what, s64 n, const char *after)
{
	ksnprintf(r->err, sizeof r->err, "line %lu: %s%ld%s", r->line, what, n, after ? after : "");
	return -1;
}

static int is_lower(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ident checks [a-z_][a-z0-9_]* of at most MAX_IDENT bytes; with dots, a
 * key's [a-z_][a-z0-9_]*(\.[a-z0-9_]+)*. */
static int ident(const char *s, int n, int dots)
{
	if (n == 0 || n > MAX_IDENT || !is_lower(s[0]))
		return 0;
	for (int i = 1; i < n; i++) {
		if (is_lower(s[i]) || is_digit(s[i]))
			continue;
		if (dots && s[i] == '.' && i + 1 < n && s[i + 1] != '.')
			continue;
		return 0;
	}
	return 1;
}

/* number parses a canonical decimal s64: no '+', no leading zeros, no -0. */
static int number(const char *s, int n, s64 *out)
{
	int neg = s[0] == '-', i = neg;
	if (i == n || (s[i] == '0' && n - i > 1) || (neg && s[i] == '0'))
		return 0;
	u64 v = 0, limit = neg ? (u64)1 << 63 : ((u64)1 << 63) - 1;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return 0;
		u64 d = (u64)(s[i] - '0');
		if (v > (limit - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = neg ? (s64)(0 - v) : (s64)v;
	return 1;
}

static int eq(const char *s, int n, const char *word)
{
	int i = 0;
	for (; i < n && word[i]; i++)
		if (s[i] != word[i])
			return 0;
	return i == n && !word[i];
}

/* next_line returns the next line that is not empty or a comment in
 * *s, *n: 1, or 0 at the end of the buffer, or -1 on a lexical error. */
static int next_line(struct tf_reader *r, const char **s, int *n)
{
	while (r->pos < r->len) {
		const char *p = r->buf + r->pos;
		size_t i = 0, left = r->len - r->pos;
		r->line++;
		while (i < left && p[i] != '\n') {
			if (p[i] < 0x20 || p[i] > 0x7e) {
				ksnprintf(r->err, sizeof r->err, "line %lu: invalid byte 0x%x (only printable ASCII is allowed)",
					  r->line, (unsigned)(u8)p[i]);
				return -1;
			}
			if (i == MAX_LINE)
				return fail(r, "line longer than 4096 bytes", NULL);
			i++;
		}
		r->pos += i + (i < left);
		if (i == 0 || p[0] == '#')
			continue;
		*s = p;
		*n = (int)i;
		return 1;
	}
	return 0;
}

/* split parses one record line into p->rec. */
static int split(struct parse *p, const char *s, int n)
{
	struct record *rec = &p->rec;
	int i = 0, first = 1;
	rec->nfields = 0;
	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		int start = i;
		while (i < n && s[i] != ' ')
			i++;
		const char *t = s + start;
		int tn = i - start;
		if (first) {
			if (!ident(t, tn, 0))
				return fail(p->r, "bad record keyword", NULL);
			rec->kw = t;
			rec->kwlen = tn;
			first = 0;
			continue;
		}
		if (rec->nfields == MAX_FIELDS)
			return fail(p->r, "a record has more than 256 fields", NULL);
		int eqat = 0;
		while (eqat < tn && t[eqat] != '=')
			eqat++;
		if (eqat == tn)
			return fail(p->r, "a field is not key=value", NULL);
		struct field *f = &rec->f[rec->nfields++];
		f->key = t;
		f->klen = eqat;
		f->val = t + eqat + 1;
		f->vlen = tn - eqat - 1;
		if (!ident(f->key, f->klen, 1))
			return fail(p->r, "bad field key", NULL);
		if (f->vlen == 0)
			return fail(p->r, "empty value", NULL);
		f->is_int = f->val[0] == '-' || is_digit(f->val[0]);
		if (f->is_int && !number(f->val, f->vlen, &f->n))
			return fail(p->r, "bad integer (canonical decimal, 64-bit) in field ", NULL);
		if (!f->is_int && !ident(f->val, f->vlen, 0))
			return fail(p->r, "bad identifier value", NULL);
	}
	if (first)
		return fail(p->r, "blank line with spaces", NULL);
	return 0;
}

/* next_record reads the next record: 1, 0 at the end, -1 on error. */
static int next_record(struct parse *p)
{
	const char *s;
	int n;
	int got = next_line(p->r, &s, &n);
	if (got <= 0)
		return got;
	return split(p, s, n) < 0 ? -1 : 1;
}

static int is(struct parse *p, const char *kw) { return eq(p->rec.kw, p->rec.kwlen, kw); }

/* want_int returns field i's integer if its key is key. */
static int want_int(struct parse *p, int i, const char *key, s64 *out)
{
	struct record *rec = &p->rec;
	if (i >= rec->nfields || !eq(rec->f[i].key, rec->f[i].klen, key) || !rec->f[i].is_int) {
		ksnprintf(p->r->err, sizeof p->r->err, "line %lu: field %d of this record must be %s=<integer>",
			  p->r->line, i + 1, key);
		return -1;
	}
	*out = rec->f[i].n;
	return 0;
}

/* fixed_ints reads a record that is exactly the integer fields keys. */
static int fixed_ints(struct parse *p, const char *const *keys, int n, s64 *out)
{
	if (p->rec.nfields != n)
		return fail(p->r, "wrong number of fields in a structural record", NULL);
	for (int i = 0; i < n; i++)
		if (want_int(p, i, keys[i], &out[i]) < 0)
			return -1;
	return 0;
}

static int range(struct tf_reader *r, const char *key, s64 v, s64 lo, s64 hi)
{
	if (v >= lo && v <= hi)
		return 0;
	ksnprintf(r->err, sizeof r->err, "line %lu: %s=%ld is out of range %ld..%ld", r->line, key, v, lo, hi);
	return -1;
}

static int find_name(const char *const *names, int n, const char *s, int len)
{
	for (int i = 0; i < n; i++)
		if (eq(s, len, names[i]))
			return i;
	return -1;
}

/*
 * Setup records: named integer fields in any order, some required, data
 * a list. struct kv collects them.
 */
enum { K_INO, K_NLINK, K_LEN, K_NAME, K_ID, K_READERS, K_WRITERS, K_PID, K_FD, K_OFF, K_PIPE,
       K_WRITER, K_VA, K_ANON, K_WRITABLE, K_DATA, K_N };
static const char *const kv_names[K_N] = {
	"ino", "nlink", "len", "name", "id", "readers", "writers", "pid", "fd", "off", "pipe",
	"writer", "va", "anon", "writable", "data",
};

struct kv {
	u32 has;
	s64 v[K_N];
	int ndata;
	u8 data[KUT_MAX_UNITS];
};

/* fields reads the record's fields into kv: keys must be in allowed, all
 * of required present, none repeated but data. */
static int fields(struct parse *p, u32 allowed, u32 required, struct kv *kv)
{
	struct tf_reader *r = p->r;
	kv->has = 0;
	kv->ndata = 0;
	for (int i = 0; i < p->rec.nfields; i++) {
		struct field *f = &p->rec.f[i];
		int k = find_name(kv_names, K_N, f->key, f->klen);
		if (k < 0 || !(allowed & (1u << k)))
			return fail(r, "unknown field in a setup record", NULL);
		if (!f->is_int)
			return fail(r, "setup fields are integers", NULL);
		if (k == K_DATA) {
			if (kv->ndata == KUT_MAX_UNITS)
				return failn(r, "more data units than the kernel holds per file (", KUT_MAX_UNITS, ")");
			if (range(r, "data", f->n, 0, 255) < 0)
				return -1;
			kv->data[kv->ndata++] = (u8)f->n;
			kv->has |= 1u << k;
			continue;
		}
		if (kv->has & (1u << k))
			return fail(r, "repeated field ", kv_names[k]);
		kv->has |= 1u << k;
		kv->v[k] = f->n;
	}
	for (int k = 0; k < K_N; k++)
		if ((required & (1u << k)) && !(kv->has & (1u << k)))
			return fail(r, "missing field ", kv_names[k]);
	return 0;
}

#define B(k) (1u << K_##k)

static int pid_fd(struct tf_reader *r, const struct kv *kv)
{
	if (range(r, "pid", kv->v[K_PID], 0, KUT_NPROC - 1) < 0)
		return -1;
	return range(r, "fd", kv->v[K_FD], 0, r->fd_limit - 1);
}

static int setup_inode(struct parse *p, struct tf_test *t)
{
	struct kv kv;
	if (fields(p, B(INO) | B(NLINK) | B(LEN) | B(DATA), B(INO) | B(NLINK) | B(LEN), &kv) < 0)
		return -1;
	if (t->ninodes == TF_MAX_INODES)
		return failn(p->r, "more inodes in one test than the harness holds (", TF_MAX_INODES, ")");
	if (kv.v[K_LEN] != kv.ndata)
		return fail(p->r, "len differs from the number of data fields", NULL);
	if (range(p->r, "nlink", kv.v[K_NLINK], 0, TF_MAX_NAMES) < 0)
		return -1;
	struct tf_inode *in = &t->inodes[t->ninodes++];
	in->ino = kv.v[K_INO];
	in->nlink = kv.v[K_NLINK];
	in->len = kv.v[K_LEN];
	memcpy(in->data, kv.data, (size_t)kv.ndata);
	return 0;
}

static int setup_file(struct parse *p, struct tf_test *t)
{
	struct kv kv;
	if (fields(p, B(NAME) | B(INO), B(NAME) | B(INO), &kv) < 0)
		return -1;
	if (t->nnames == TF_MAX_NAMES)
		return failn(p->r, "more names in one test than the harness holds (", TF_MAX_NAMES, ")");
	if (range(p->r, "name", kv.v[K_NAME], 0, TF_MAX_NAME) < 0)
		return -1;
	t->names[t->nnames].name = kv.v[K_NAME];
	t->names[t->nnames++].ino = kv.v[K_INO];
	return 0;
}

static int setup_pipe(struct parse *p, struct tf_test *t)
{
	struct kv kv;
	if (fields(p, B(ID) | B(READERS) | B(WRITERS) | B(LEN) | B(DATA), B(ID) | B(READERS) | B(WRITERS) | B(LEN), &kv) < 0)
		return -1;
	if (t->npipes == TF_MAX_PIPES)
		return failn(p->r, "more pipes in one test than the harness holds (", TF_MAX_PIPES, ")");
	if (kv.v[K_LEN] != kv.ndata)
		return fail(p->r, "len differs from the number of data fields", NULL);
	if (range(p->r, "readers", kv.v[K_READERS], 0, TF_MAX_HIDDEN) < 0 ||
	    range(p->r, "writers", kv.v[K_WRITERS], 0, TF_MAX_HIDDEN) < 0)
		return -1;
	struct tf_pipe *q = &t->pipes[t->npipes++];
	q->id = kv.v[K_ID];
	q->readers = kv.v[K_READERS];
	q->writers = kv.v[K_WRITERS];
	q->len = kv.v[K_LEN];
	memcpy(q->data, kv.data, (size_t)kv.ndata);
	return 0;
}

static int setup_fd(struct parse *p, struct tf_test *t, int is_pipe)
{
	struct kv kv;
	u32 want = is_pipe ? B(PID) | B(FD) | B(PIPE) | B(WRITER) : B(PID) | B(FD) | B(INO) | B(OFF);
	if (fields(p, want, want, &kv) < 0 || pid_fd(p->r, &kv) < 0)
		return -1;
	if (t->nfds == TF_MAX_FDS)
		return failn(p->r, "more descriptors in one test than the harness holds (", TF_MAX_FDS, ")");
	struct tf_fd *f = &t->fds[t->nfds++];
	memset(f, 0, sizeof *f);
	f->pid = kv.v[K_PID];
	f->fd = kv.v[K_FD];
	f->is_pipe = is_pipe;
	if (is_pipe) {
		f->pipe = kv.v[K_PIPE];
		f->writer = kv.v[K_WRITER];
		return range(p->r, "writer", f->writer, 0, 1);
	}
	f->ino = kv.v[K_INO];
	f->off = kv.v[K_OFF];
	return range(p->r, "off", f->off, 0, TF_MAX_OFF);
}

static int setup_map(struct parse *p, struct tf_test *t)
{
	struct kv kv;
	u32 base = B(PID) | B(VA) | B(ANON) | B(WRITABLE);
	if (fields(p, base | B(INO) | B(OFF) | B(DATA), base, &kv) < 0)
		return -1;
	if (t->nmaps == TF_MAX_MAPS)
		return failn(p->r, "more mappings in one test than the harness holds (", TF_MAX_MAPS, ")");
	struct tf_reader *r = p->r;
	if (range(r, "pid", kv.v[K_PID], 0, KUT_NPROC - 1) < 0 || range(r, "va", kv.v[K_VA], 0, KUT_VA_PAGES - 1) < 0 ||
	    range(r, "anon", kv.v[K_ANON], 0, 1) < 0 || range(r, "writable", kv.v[K_WRITABLE], 0, 1) < 0)
		return -1;
	struct tf_map *m = &t->maps[t->nmaps++];
	memset(m, 0, sizeof *m);
	m->pid = kv.v[K_PID];
	m->va = kv.v[K_VA];
	m->anon = kv.v[K_ANON];
	m->writable = kv.v[K_WRITABLE];
	if (m->anon) {
		if (kv.has & (B(INO) | B(OFF)) || kv.ndata != 1)
			return fail(r, "an anonymous map has one data field and no ino or off", NULL);
		m->data = kv.data[0];
		return 0;
	}
	if ((kv.has & (B(INO) | B(OFF))) != (B(INO) | B(OFF)) || kv.ndata != 0)
		return fail(r, "a file map has ino and off and no data", NULL);
	m->ino = kv.v[K_INO];
	m->off = kv.v[K_OFF];
	return range(r, "off", m->off, 0, TF_MAX_OFF);
}

#undef B

/* call_record reads "call slot=<i> name=<name> <args>". */
static int call_record(struct parse *p, struct tf_test *t, int slot)
{
	struct tf_reader *r = p->r;
	s64 v;
	if (want_int(p, 0, "slot", &v) < 0)
		return -1;
	if (v != slot)
		return failn(r, "call slot out of order: want slot=", slot, NULL);
	struct field *nf = &p->rec.f[1];
	if (p->rec.nfields < 2 || !eq(nf->key, nf->klen, "name") || nf->is_int)
		return fail(r, "field 2 of a call must be name=<call>", NULL);
	int kind = find_name(tf_call_names, TC_NCALLS, nf->val, nf->vlen);
	if (kind < 0)
		return fail(r, "unknown call name", NULL);
	if (kind != r->set_calls[slot])
		return fail(r, "the call's name is not the set's call of this slot", NULL);
	struct tf_call *c = &t->calls[slot];
	c->kind = kind;
	u32 seen = 0;
	for (int i = 2; i < p->rec.nfields; i++) {
		struct field *f = &p->rec.f[i];
		int a = find_name(arg_names, TA_NARGS, f->key, f->klen);
		if (a < 0 || !(call_args[kind] & (1u << a)))
			return fail(r, "unknown argument of ", tf_call_names[kind]);
		if (seen & (1u << a))
			return fail(r, "repeated argument ", arg_names[a]);
		if (!f->is_int)
			return fail(r, "call arguments are integers", NULL);
		seen |= 1u << a;
		c->arg[a] = f->n;
	}
	if (seen != call_args[kind])
		return fail(r, "missing arguments of ", tf_call_names[kind]);
	s64 *a = c->arg;
	if (range(r, "pid", a[TA_PID], 0, KUT_NPROC - 1) < 0)
		return -1;
	static const int bools[] = {TA_CREAT, TA_EXCL, TA_TRUNC, TA_FIXED, TA_ANON, TA_WRITABLE};
	for (u32 i = 0; i < sizeof bools / sizeof bools[0]; i++)
		if ((seen & (1u << bools[i])) && range(r, arg_names[bools[i]], a[bools[i]], 0, 1) < 0)
			return -1;
	static const int names[] = {TA_PN, TA_OLD, TA_NEW, TA_SRC, TA_DST};
	for (u32 i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((seen & (1u << names[i])) && range(r, arg_names[names[i]], a[names[i]], 0, TF_MAX_NAME) < 0)
			return -1;
	if ((seen & (1u << TA_FD)) && range(r, "fd", a[TA_FD], 0, r->fd_limit - 1) < 0)
		return -1;
	if ((seen & (1u << TA_OFF)) && range(r, "off", a[TA_OFF], -TF_MAX_OFF, TF_MAX_OFF) < 0)
		return -1;
	if ((seen & (1u << TA_WHENCE)) && range(r, "whence", a[TA_WHENCE], 0, 2) < 0)
		return -1;
	if ((seen & (1u << TA_DATA)) && range(r, "data", a[TA_DATA], 0, 255) < 0)
		return -1;
	if ((seen & (1u << TA_VA)) && range(r, "va", a[TA_VA], 0, KUT_VA_PAGES - 1) < 0)
		return -1;
	if (kind != TC_LSEEK && (seen & (1u << TA_OFF)) && a[TA_OFF] < 0)
		return fail(r, "a negative offset outside lseek", NULL);
	return 0;
}

static int expect_record(struct parse *p, struct tf_test *t, int slot)
{
	struct tf_reader *r = p->r;
	s64 v;
	if (want_int(p, 0, "slot", &v) < 0)
		return -1;
	if (v != slot)
		return failn(r, "expect slot out of order: want slot=", slot, NULL);
	struct tf_fields *e = &t->expect[slot];
	int kind = t->calls[slot].kind;
	e->has = 0;
	for (int i = 1; i < p->rec.nfields; i++) {
		struct field *f = &p->rec.f[i];
		int k = find_name(tf_result_names, TR_NRESULTS, f->key, f->klen);
		if (k < 0 || !(call_results[kind] & (1u << k)))
			return fail(r, "unknown result field of ", tf_call_names[kind]);
		if (e->has & (1u << k))
			return fail(r, "repeated result field ", tf_result_names[k]);
		if (!f->is_int)
			return fail(r, "results are integers", NULL);
		e->has |= 1u << k;
		e->v[k] = f->n;
	}
	u32 need = kind == TC_MEMREAD || kind == TC_MEMWRITE ? 1u << TR_SIGNAL : 1u << TR_R;
	if (!(e->has & need))
		return fail(r, "missing result field ", tf_result_names[need == 1u << TR_R ? TR_R : TR_SIGNAL]);
	return 0;
}

static const struct tf_inode *inode_of(const struct tf_test *t, s64 ino)
{
	for (int i = 0; i < t->ninodes; i++)
		if (t->inodes[i].ino == ino)
			return &t->inodes[i];
	return NULL;
}

static const struct tf_pipe *pipe_of(const struct tf_test *t, s64 id)
{
	for (int i = 0; i < t->npipes; i++)
		if (t->pipes[i].id == id)
			return &t->pipes[i];
	return NULL;
}

/* check_setup checks the constraints of FORMAT.md's "Setup records". */
static int check_setup(struct tf_reader *r, const struct tf_test *t)
{
	for (int i = 0; i < t->ninodes; i++) {
		int links = 0;
		for (int j = 0; j < i; j++)
			if (t->inodes[j].ino == t->inodes[i].ino)
				return failn(r, "setup of this test: inode ", t->inodes[i].ino, " declared twice");
		for (int j = 0; j < t->nnames; j++)
			links += t->names[j].ino == t->inodes[i].ino;
		if (t->inodes[i].nlink < links)
			return failn(r, "setup of this test: inode ", t->inodes[i].ino, " has fewer links than names");
	}
	for (int i = 0; i < t->npipes; i++) {
		int ends[2] = {0, 0};
		for (int j = 0; j < i; j++)
			if (t->pipes[j].id == t->pipes[i].id)
				return failn(r, "setup of this test: pipe ", t->pipes[i].id, " declared twice");
		for (int j = 0; j < t->nfds; j++)
			if (t->fds[j].is_pipe && t->fds[j].pipe == t->pipes[i].id)
				ends[t->fds[j].writer]++;
		if (t->pipes[i].readers < ends[0] || t->pipes[i].writers < ends[1])
			return failn(r, "setup of this test: pipe ", t->pipes[i].id, " counts fewer ends than it lists");
	}
	for (int i = 0; i < t->nnames; i++) {
		if (!inode_of(t, t->names[i].ino))
			return failn(r, "setup of this test: a file names undeclared inode ", t->names[i].ino, NULL);
		for (int j = 0; j < i; j++)
			if (t->names[j].name == t->names[i].name)
				return failn(r, "setup of this test: name ", t->names[i].name, " given twice");
	}
	for (int i = 0; i < t->nfds; i++) {
		const struct tf_fd *f = &t->fds[i];
		if (f->is_pipe ? !pipe_of(t, f->pipe) : !inode_of(t, f->ino))
			return failn(r, "setup of this test: descriptor ", f->fd, " refers to an undeclared object");
		for (int j = 0; j < i; j++)
			if (t->fds[j].pid == f->pid && t->fds[j].fd == f->fd)
				return failn(r, "setup of this test: descriptor ", f->fd, " given twice");
	}
	for (int i = 0; i < t->nmaps; i++) {
		const struct tf_map *m = &t->maps[i];
		if (!m->anon && !inode_of(t, m->ino))
			return failn(r, "setup of this test: a map names undeclared inode ", m->ino, NULL);
		for (int j = 0; j < i; j++)
			if (t->maps[j].pid == m->pid && t->maps[j].va == m->va)
				return failn(r, "setup of this test: page ", m->va, " mapped twice");
	}
	return 0;
}

/* test_body reads the records of one test after its test record. */
static int test_body(struct parse *p, struct tf_test *t)
{
	struct tf_reader *r = p->r;
	int calls = 0, expects = 0;
	for (;;) {
		int got = next_record(p);
		if (got < 0)
			return -1;
		if (got == 0)
			return failn(r, "unexpected end of file inside test ", t->id, " (truncated file?)");
		int is_setup = is(p, "inode") || is(p, "file") || is(p, "pipe") || is(p, "fd") || is(p, "pipefd") || is(p, "map");
		if (is_setup && calls > 0)
			return fail(r, "a setup record after the calls", NULL);
		if (is(p, "inode")) {
			if (setup_inode(p, t) < 0)
				return -1;
		} else if (is(p, "file")) {
			if (setup_file(p, t) < 0)
				return -1;
		} else if (is(p, "pipe")) {
			if (setup_pipe(p, t) < 0)
				return -1;
		} else if (is(p, "fd") || is(p, "pipefd")) {
			if (setup_fd(p, t, is(p, "pipefd")) < 0)
				return -1;
		} else if (is(p, "map")) {
			if (setup_map(p, t) < 0)
				return -1;
		} else if (is(p, "call")) {
			if (expects > 0 || calls == t->ncalls)
				return fail(r, "a call record out of place", NULL);
			if (call_record(p, t, calls++) < 0)
				return -1;
		} else if (is(p, "expect")) {
			if (calls < t->ncalls || expects == t->ncalls)
				return fail(r, "an expect record out of place", NULL);
			if (expect_record(p, t, expects++) < 0)
				return -1;
		} else if (is(p, "end")) {
			if (p->rec.nfields != 0)
				return fail(r, "end has no fields", NULL);
			if (expects < t->ncalls)
				return fail(r, "end of a test that lacks calls or expect records", NULL);
			return check_setup(r, t);
		} else {
			return fail(r, "unknown record in a test", NULL);
		}
	}
}

static int set_record(struct parse *p)
{
	struct tf_reader *r = p->r;
	s64 id;
	if (want_int(p, 0, "id", &id) < 0)
		return -1;
	if (id != r->sets + 1)
		return failn(r, "set ids are consecutive from 1: want ", r->sets + 1, NULL);
	int n = p->rec.nfields - 1;
	if (n < 1 || n > TF_MAX_CALLS)
		return fail(r, "fstest runs sets of 1 or 2 calls", NULL);
	for (int i = 0; i < n; i++) {
		struct field *f = &p->rec.f[i + 1];
		int kind = f->is_int ? -1 : find_name(tf_call_names, TC_NCALLS, f->val, f->vlen);
		if (!eq(f->key, f->klen, "call") || kind < 0)
			return fail(r, "a set's fields are call=<name> of a posix call", NULL);
		r->set_calls[i] = kind;
	}
	r->set_ncalls = n;
	r->sets++;
	r->in_set = 1;
	r->set_tests = 0;
	return 0;
}

static int summary_record(struct parse *p)
{
	struct tf_reader *r = p->r;
	static const char *const keys[] = {"set", "paths", "commutative", "tests", "errors"};
	s64 v[5];
	if (p->rec.nfields != 6) {
		return fail(r, "summary record: want set paths commutative tests errors status", NULL);
	}
	for (int i = 0; i < 5; i++)
		if (want_int(p, i, keys[i], &v[i]) < 0)
			return -1;
	struct field *st = &p->rec.f[5];
	int ok = eq(st->val, st->vlen, "ok");
	if (!eq(st->key, st->klen, "status") || st->is_int ||
	    !(ok || eq(st->val, st->vlen, "timeout") || eq(st->val, st->vlen, "error")))
		return fail(r, "summary record: field 6 must be status=<ok|timeout|error>", NULL);
	if (v[0] != r->sets)
		return failn(r, "summary of another set than ", r->sets, NULL);
	if (v[3] != r->set_tests)
		return failn(r, "summary's test count differs from the tests of set ", r->sets, NULL);
	if (!ok && r->set_tests > 0)
		return fail(r, "a set whose status is not ok contains tests", NULL);
	r->in_set = 0;
	return 0;
}

static int eof_record(struct parse *p)
{
	struct tf_reader *r = p->r;
	static const char *const keys[] = {"sets", "tests"};
	s64 v[2];
	if (r->in_set)
		return fail(r, "eof inside a set", NULL);
	if (fixed_ints(p, keys, 2, v) < 0)
		return -1;
	if (v[0] != r->sets || v[1] != r->tests)
		return fail(r, "eof record's totals differ from the sets and tests in the file", NULL);
	int more = next_record(p);
	if (more < 0)
		return -1;
	if (more)
		return fail(r, "a record after eof", NULL);
	r->done = 1;
	return 0;
}

int tf_next(struct tf_reader *r, struct tf_test *t)
{
	struct parse p = {.r = r};
	if (r->done)
		return 0;
	for (;;) {
		int got = next_record(&p);
		if (got < 0)
			return -1;
		if (got == 0)
			return fail(r, "unexpected end of file: no eof record (truncated file?)", NULL);
		if (is(&p, "set")) {
			if (r->in_set)
				return fail(r, "a set inside a set (missing summary)", NULL);
			if (set_record(&p) < 0)
				return -1;
		} else if (is(&p, "summary")) {
			if (!r->in_set || summary_record(&p) < 0)
				return r->in_set ? -1 : fail(r, "summary outside a set", NULL);
		} else if (is(&p, "eof")) {
			return eof_record(&p) < 0 ? -1 : 0;
		} else if (is(&p, "test")) {
			static const char *const keys[] = {"id", "set", "path"};
			s64 v[3];
			if (!r->in_set)
				return fail(r, "a test outside a set", NULL);
			if (fixed_ints(&p, keys, 3, v) < 0)
				return -1;
			if (v[0] != r->tests + 1)
				return failn(r, "test ids are consecutive from 1: want ", r->tests + 1, NULL);
			if (v[1] != r->sets)
				return failn(r, "a test that names another set than ", r->sets, NULL);
			memset(t, 0, sizeof *t);
			t->id = v[0];
			t->set = v[1];
			t->path = v[2];
			t->ncalls = r->set_ncalls;
			if (test_body(&p, t) < 0)
				return -1;
			r->tests++;
			r->set_tests++;
			return 1;
		} else {
			return fail(r, "unknown record (want set, test, summary or eof)", NULL);
		}
	}
}

int tf_begin(struct tf_reader *r, const char *buf, size_t len)
{
	struct parse p = {.r = r};
	memset(r, 0, sizeof *r);
	r->buf = buf;
	r->len = len;
	const char *s;
	int n;
	int got = next_line(r, &s, &n);
	if (got < 0)
		return -1;
	if (got == 0)
		return fail(r, "empty test file", NULL);
	if (n < 15 || memcmp(s, "crewvm-testgen ", 15) != 0)
		return fail(r, "not a test file: want \"crewvm-testgen <version>\"", NULL);
	if (!eq(s + 15, n - 15, "1"))
		return fail(r, "unsupported test file version (this harness reads version 1)", NULL);
	got = next_record(&p);
	if (got <= 0)
		return got < 0 ? -1 : fail(r, "unexpected end of file: want a model record", NULL);
	struct field *f = &p.rec.f[0];
	if (!is(&p, "model") || p.rec.nfields != 1 || !eq(f->key, f->klen, "name") || f->is_int)
		return fail(r, "want a model name=<identifier> record", NULL);
	if (!eq(f->val, f->vlen, "posix"))
		return fail(r, "fstest runs tests of the posix model only", NULL);
	s64 unit = -1, fd_limit = -1;
	for (;;) {
		size_t pos = r->pos;
		u64 line = r->line;
		got = next_record(&p);
		if (got < 0)
			return -1;
		if (got == 0 || !is(&p, "param")) {
			r->pos = pos; /* not a param: the next tf_next reads it again */
			r->line = line;
			break;
		}
		f = &p.rec.f[0];
		if (p.rec.nfields != 1 || !f->is_int)
			return fail(r, "param record: want one key=<integer> field", NULL);
		s64 *slot = eq(f->key, f->klen, "unit") ? &unit : eq(f->key, f->klen, "fd_limit") ? &fd_limit : NULL;
		if (!slot)
			return fail(r, "unknown param of the posix model", NULL);
		if (*slot >= 0)
			return fail(r, "param given twice", NULL);
		*slot = f->n;
	}
	if (unit != KUT_UNIT)
		return fail(r, "the posix model's param unit must be 4096", NULL);
	if (fd_limit < 1 || fd_limit > TF_MAX_FD_LIMIT)
		return failn(r, "param fd_limit must be 1..", TF_MAX_FD_LIMIT, NULL);
	r->fd_limit = fd_limit;
	return 0;
}
