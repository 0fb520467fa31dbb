/*
 * scalable's directory: a hash table of SCAL_NBUCKETS chains. A bucket
 * has a lock on one line and a sequence count and the chain's head on
 * another; an entry has its name and link on one line and its inode,
 * with a sequence count of its own, on another. Lookups read buckets and
 * entries optimistically, retrying if a writer changed them meanwhile,
 * and never read a lock; writers lock only the buckets they change
 * (rename: both, in index order). A rename over an existing name changes
 * only that entry's inode line. Entries come from the caller's CPU's
 * pool and, once removed, stay readable (dead) until scal_reclaim
 * recycles them, so a lookup walking a chain never follows a recycled
 * entry.
 *
 * Calls whose result needs no change (a name that does not exist, a link
 * to a name that exists, a rename onto itself) answer from the optimistic
 * lookup and write nothing; those that only need to know whether a name
 * exists do not read its inode.
 */
#include "scal.h"
#include "string.h"

/* FNV-1a, then a final mix so that names differing in their last
 * character (f1, f2, ...) spread over the buckets. */
static struct scal_bucket *bucket_of(const char *name)
{
	u32 h = 2166136261u;

	for (; *name; name++) {
		h ^= (u8)*name;
		h *= 16777619u;
	}
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return &scal.buckets[h & (SCAL_NBUCKETS - 1)];
}

static int bad_name(const char *name)
{
	if (!name)
		return 1;
	for (int i = 0; i <= KUT_NAME_MAX; i++)
		if (!name[i])
			return 0;
	return 1;
}

/* chain_find finds name in b's chain, setting *link (when not NULL) to
 * the pointer that leads to it. Safe without the lock (see above). */
static struct scal_dirent *chain_find(struct scal_bucket *b, const char *name, struct scal_dirent ***link)
{
	struct scal_dirent **at = &b->head;
	struct scal_dirent *de;

	while ((de = __atomic_load_n(at, __ATOMIC_ACQUIRE))) {
		if (strcmp(de->name, name) == 0) {
			if (link)
				*link = at;
			return de;
		}
		at = &de->next;
	}
	return NULL;
}

/* A name being looked up: its bucket, and what the lookup found. */
struct dname {
	const char *name;
	struct scal_bucket *b;
	struct scal_dirent *de;
	struct scal_inode *ip; /* when asked for */
	u32 bs, ds;
};

static void dname_init(struct dname *n, const char *name)
{
	n->name = name;
	n->b = bucket_of(name);
}

/* dname_read finds n's entry, and its inode if want_ip, writing nothing;
 * dname_changed says whether a writer got in meanwhile (retry). Asking
 * only whether a name exists reads neither the entry's inode line nor
 * the bucket's lock. */
static void dname_read(struct dname *n, int want_ip)
{
	n->bs = seq_begin(&n->b->seq);
	n->de = chain_find(n->b, n->name, NULL);
	n->ip = NULL;
	if (n->de && want_ip) {
		n->ds = seq_begin(&n->de->seq);
		n->ip = __atomic_load_n(&n->de->ip, __ATOMIC_ACQUIRE);
	}
}

static int dname_changed(struct dname *n, int want_ip)
{
	if (seq_retry(&n->b->seq, n->bs))
		return 1;
	return n->de && want_ip && seq_retry(&n->de->seq, n->ds);
}

static void lookup(struct dname *n, int want_ip)
{
	do
		dname_read(n, want_ip);
	while (dname_changed(n, want_ip));
}

/* lookup2 looks two names up as of one instant. */
static void lookup2(struct dname *a, struct dname *b, int want_ip)
{
	do {
		dname_read(a, want_ip);
		dname_read(b, want_ip);
	} while (dname_changed(a, want_ip) || dname_changed(b, want_ip));
}

static struct scal_dirent *dirent_new(int cpu, const char *name, struct scal_inode *ip)
{
	int idx = scal_pool_get(cpu, SP_DIRENT);
	struct scal_dirent *de;

	if (idx < 0)
		return NULL;
	de = &scal.dirents[idx];
	memset(de->name, 0, sizeof de->name);
	memcpy(de->name, name, strlen(name));
	de->ip = ip;
	de->next = NULL;
	de->state = SCAL_LIVE;
	return de;
}

void scal_dirent_clear(struct scal_dirent *de)
{
	de->seq = 0;
	de->next = NULL;
	de->ip = NULL;
	de->state = SCAL_FREE;
}

/* With b locked and its seq odd: */
static void chain_insert(struct scal_bucket *b, struct scal_dirent *de)
{
	de->next = b->head;
	__atomic_store_n(&b->head, de, __ATOMIC_RELEASE);
}

static void chain_remove(struct scal_dirent **link, struct scal_dirent *de)
{
	__atomic_store_n(link, de->next, __ATOMIC_RELEASE);
	de->state = SCAL_DEAD;
}

static void lock_two(struct scal_bucket *a, struct scal_bucket *b)
{
	if (a == b) {
		spin_lock(&a->lock);
	} else if (a < b) {
		spin_lock(&a->lock);
		spin_lock(&b->lock);
	} else {
		spin_lock(&b->lock);
		spin_lock(&a->lock);
	}
}

static void unlock_two(struct scal_bucket *a, struct scal_bucket *b)
{
	spin_unlock(&a->lock);
	if (a != b)
		spin_unlock(&b->lock);
}

/* scal_dir_clear empties every bucket (reset). */
void scal_dir_clear(void)
{
	for (int i = 0; i < SCAL_NBUCKETS; i++) {
		struct scal_bucket *b = &scal.buckets[i];
		if (b->head || b->seq) {
			b->head = NULL;
			b->seq = 0;
		}
	}
}

/* create makes name in b, unless another CPU just did; either way it
 * returns the inode with a reference for the caller, and sets *created. */
static struct scal_inode *create(int cpu, struct scal_bucket *b, const char *name, int *created, s64 *err)
{
	struct scal_dirent *de;
	struct scal_inode *ip;

	spin_lock(&b->lock);
	de = chain_find(b, name, NULL);
	if (de) {
		ip = de->ip;
		scal_ref_add(&ip->ref, cpu, 1);
		spin_unlock(&b->lock);
		return ip;
	}
	ip = scal_inode_new(cpu);
	de = ip ? dirent_new(cpu, name, ip) : NULL;
	if (!de) {
		if (ip)
			scal_inode_discard(cpu, ip);
		spin_unlock(&b->lock);
		*err = KUT_ENOSPC;
		return NULL;
	}
	scal_ref_add(&ip->ref, cpu, 1);
	seq_write_begin(&b->seq);
	chain_insert(b, de);
	seq_write_end(&b->seq);
	spin_unlock(&b->lock);
	*created = 1;
	return ip;
}

/* open_inode finds (or creates) the file open opens and returns it with a
 * reference for the new description, or NULL with *err set. */
static struct scal_inode *open_inode(int cpu, const char *name, int flags, s64 *err)
{
	int creat = flags & KUT_O_CREAT, excl = flags & KUT_O_EXCL;
	struct scal_inode *ip;
	struct dname n;
	int created = 0;

	dname_init(&n, name);
	/* O_CREAT|O_EXCL of an existing name needs only to know it exists. */
	lookup(&n, !(creat && excl));
	if (n.de && creat && excl) {
		*err = KUT_EEXIST;
		return NULL;
	}
	if (!n.de && !creat) {
		*err = KUT_ENOENT;
		return NULL;
	}
	ip = n.ip;
	if (ip) {
		scal_ref_add(&ip->ref, cpu, 1);
	} else {
		ip = create(cpu, n.b, name, &created, err);
		if (!ip)
			return NULL;
		if (!created && excl) {
			scal_ref_add(&ip->ref, cpu, -1);
			*err = KUT_EEXIST;
			return NULL;
		}
	}
	if (!created && (flags & KUT_O_TRUNC))
		scal_inode_truncate(cpu, ip);
	return ip;
}

void scal_open(int cpu, int pid, const char *name, int flags, struct kres *res)
{
	struct scal_inode *ip;
	struct scal_file *f;
	s64 err = 0;
	int fd;

	if (scal_bad_pid(pid) || bad_name(name))
		return scal_fail(res, KUT_EINVAL);
	ip = open_inode(cpu, name, flags, &err);
	if (!ip)
		return scal_fail(res, err);
	/* The description takes over the inode reference. */
	f = scal_file_new(cpu, SCAL_F_INODE, ip, NULL);
	if (!f) {
		scal_ref_add(&ip->ref, cpu, -1);
		return scal_fail(res, KUT_EMFILE);
	}
	fd = scal_fd_install(pid, f);
	if (fd < 0) {
		scal_file_discard(cpu, f);
		return scal_fail(res, KUT_EMFILE);
	}
	scal_ok(res, fd);
}

/* link_locked adds new for old with new's bucket locked; 0 or -errno.
 * Only that bucket changes: old is looked up again without locking its
 * bucket. Should old go away meanwhile, this link happened first: the
 * inode cannot be recycled while this call runs, and its nlink stays
 * exact. */
static s64 link_locked(int cpu, struct dname *o, struct dname *n)
{
	struct scal_dirent *de;
	struct scal_inode *ip;

	if (o->b == n->b) {
		de = chain_find(o->b, o->name, NULL);
		ip = de ? de->ip : NULL;
	} else {
		lookup(o, 1);
		ip = o->ip;
	}
	if (!ip)
		return -KUT_ENOENT;
	if (chain_find(n->b, n->name, NULL))
		return -KUT_EEXIST;
	scal_pin(cpu, ip);
	de = dirent_new(cpu, n->name, ip);
	if (!de)
		return -KUT_ENOSPC;
	seq_write_begin(&n->b->seq);
	scal_inode_nlink_add(ip, cpu, 1);
	chain_insert(n->b, de);
	seq_write_end(&n->b->seq);
	return 0;
}

void scal_link(int cpu, int pid, const char *old, const char *new_name, struct kres *res)
{
	struct dname o, n;
	s64 r;

	if (scal_bad_pid(pid) || bad_name(old) || bad_name(new_name))
		return scal_fail(res, KUT_EINVAL);
	dname_init(&o, old);
	dname_init(&n, new_name);
	/* Without old the answer is ENOENT whatever new is: do not even
	 * read new's bucket. The failures need only whether names exist. */
	lookup(&o, 0);
	if (!o.de)
		return scal_fail(res, KUT_ENOENT);
	lookup2(&o, &n, 0);
	if (!o.de)
		return scal_fail(res, KUT_ENOENT);
	if (n.de)
		return scal_fail(res, KUT_EEXIST);
	spin_lock(&n.b->lock);
	r = link_locked(cpu, &o, &n);
	spin_unlock(&n.b->lock);
	if (r < 0)
		return scal_fail(res, -r);
	scal_ok(res, 0);
}

void scal_unlink(int cpu, int pid, const char *name, struct kres *res)
{
	struct scal_dirent *de, **link;
	struct dname n;

	if (scal_bad_pid(pid) || bad_name(name))
		return scal_fail(res, KUT_EINVAL);
	dname_init(&n, name);
	lookup(&n, 0);
	if (!n.de)
		return scal_fail(res, KUT_ENOENT);
	spin_lock(&n.b->lock);
	de = chain_find(n.b, name, &link);
	if (!de) {
		spin_unlock(&n.b->lock);
		return scal_fail(res, KUT_ENOENT);
	}
	/* nlink drops inside the bucket's write section, so a stat never
	 * sees the name with the lower count. */
	seq_write_begin(&n.b->seq);
	chain_remove(link, de);
	scal_inode_nlink_add(de->ip, cpu, -1);
	seq_write_end(&n.b->seq);
	spin_unlock(&n.b->lock);
	scal_ok(res, 0);
}

/* replace points existing entry de at ip instead (rename over it): only
 * the entry's inode line changes, not its bucket's chain. */
static void replace(int cpu, struct scal_dirent *de, struct scal_inode *ip)
{
	seq_write_begin(&de->seq);
	scal_inode_nlink_add(de->ip, cpu, -1);
	__atomic_store_n(&de->ip, ip, __ATOMIC_RELEASE);
	seq_write_end(&de->seq);
}

/* rename_locked moves src to dst with both buckets locked; 0 or -errno. */
static s64 rename_locked(int cpu, struct dname *s, struct dname *d)
{
	struct scal_dirent *des, *ded, *de = NULL, **link;

	des = chain_find(s->b, s->name, &link);
	if (!des)
		return -KUT_ENOENT;
	ded = chain_find(d->b, d->name, NULL);
	if (ded && ded->ip == des->ip)
		return 0;
	if (!ded && !(de = dirent_new(cpu, d->name, des->ip)))
		return -KUT_ENOSPC;
	/* Remove first: inserting at the head could move src's link. */
	seq_write_begin(&s->b->seq);
	chain_remove(link, des);
	if (ded) {
		replace(cpu, ded, des->ip);
	} else {
		if (d->b != s->b)
			seq_write_begin(&d->b->seq);
		chain_insert(d->b, de);
		if (d->b != s->b)
			seq_write_end(&d->b->seq);
	}
	seq_write_end(&s->b->seq);
	return 0;
}

void scal_rename(int cpu, int pid, const char *src, const char *dst, struct kres *res)
{
	struct dname s, d;
	s64 r;

	if (scal_bad_pid(pid) || bad_name(src) || bad_name(dst))
		return scal_fail(res, KUT_EINVAL);
	dname_init(&s, src);
	dname_init(&d, dst);
	/* ENOENT, and a rename onto itself, need only src's bucket. */
	lookup(&s, 0);
	if (!s.de)
		return scal_fail(res, KUT_ENOENT);
	if (strcmp(src, dst) == 0)
		return scal_ok(res, 0);
	lookup2(&s, &d, 1);
	if (!s.de)
		return scal_fail(res, KUT_ENOENT);
	if (d.ip == s.ip)
		return scal_ok(res, 0);
	lock_two(s.b, d.b);
	r = rename_locked(cpu, &s, &d);
	unlock_two(s.b, d.b);
	if (r < 0)
		return scal_fail(res, -r);
	scal_ok(res, 0);
}

void scal_stat(int cpu, int pid, const char *name, struct kres *res)
{
	struct kres st;
	struct dname n;

	(void)cpu;
	if (kut_plants & KUT_PLANT_STAT)
		__atomic_add_fetch(&scal_planted_stats, 1, __ATOMIC_RELAXED);
	if (scal_bad_pid(pid) || bad_name(name))
		return scal_fail(res, KUT_EINVAL);
	dname_init(&n, name);
	do {
		dname_read(&n, 1);
		if (n.ip)
			scal_inode_stat(n.ip, &st);
	} while (dname_changed(&n, 1));
	if (!n.ip)
		return scal_fail(res, KUT_ENOENT);
	res->size = st.size;
	res->nlink = st.nlink;
	res->fifo = 0;
	scal_ok(res, 0);
}
