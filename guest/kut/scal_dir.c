/*
 * scalable's directory: a hash table of SCAL_NBUCKETS chains, each bucket
 * on its own line with a lock and a sequence count. Lookups read a bucket
 * optimistically and retry if a writer changed it meanwhile; writers lock
 * only the buckets they change (rename: both, in index order). Entries
 * come from the caller's CPU's pool and, once removed, stay readable
 * (dead) until scal_reclaim recycles them, so a lookup walking a chain
 * never follows a recycled entry.
 *
 * Calls whose result needs no change (a name that does not exist, a link
 * to a name that exists, a rename onto itself) answer from the optimistic
 * lookup and write nothing.
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

static struct scal_inode *entry_inode(struct scal_dirent *de)
{
	return de ? __atomic_load_n(&de->ip, __ATOMIC_ACQUIRE) : NULL;
}

/* lookup returns the inode name refers to in b, or NULL. */
static struct scal_inode *lookup(struct scal_bucket *b, const char *name)
{
	struct scal_inode *ip;
	u32 s;

	do {
		s = seq_begin(&b->seq);
		ip = entry_inode(chain_find(b, name, NULL));
	} while (seq_retry(&b->seq, s));
	return ip;
}

/* lookup2 looks two names up as of one instant (both buckets unchanged
 * throughout). */
static void lookup2(struct scal_bucket *b1, const char *n1, struct scal_inode **ip1, struct scal_bucket *b2,
		    const char *n2, struct scal_inode **ip2)
{
	u32 s1, s2;

	do {
		s1 = seq_begin(&b1->seq);
		s2 = seq_begin(&b2->seq);
		*ip1 = entry_inode(chain_find(b1, n1, NULL));
		*ip2 = entry_inode(chain_find(b2, n2, NULL));
	} while (seq_retry(&b1->seq, s1) || seq_retry(&b2->seq, s2));
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
	ip = entry_inode(chain_find(b, name, NULL));
	if (ip) {
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
	struct scal_bucket *b = bucket_of(name);
	struct scal_inode *ip = lookup(b, name);
	int created = 0;

	if (ip && creat && excl) {
		*err = KUT_EEXIST;
		return NULL;
	}
	if (!ip && !creat) {
		*err = KUT_ENOENT;
		return NULL;
	}
	if (ip) {
		scal_ref_add(&ip->ref, cpu, 1);
	} else {
		ip = create(cpu, b, name, &created, err);
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

void scal_link(int cpu, int pid, const char *old, const char *new_name, struct kres *res)
{
	struct scal_bucket *bo, *bn;
	struct scal_inode *ip, *ipn;
	struct scal_dirent *de;

	if (scal_bad_pid(pid) || bad_name(old) || bad_name(new_name))
		return scal_fail(res, KUT_EINVAL);
	bo = bucket_of(old);
	bn = bucket_of(new_name);
	/* Without old the answer is ENOENT whatever new is: do not even
	 * read new's bucket. */
	if (!lookup(bo, old))
		return scal_fail(res, KUT_ENOENT);
	lookup2(bo, old, &ip, bn, new_name, &ipn);
	if (!ip)
		return scal_fail(res, KUT_ENOENT);
	if (ipn)
		return scal_fail(res, KUT_EEXIST);
	/* Only the new name's bucket changes; the old name is looked up
	 * again without locking its bucket. Should it go away meanwhile,
	 * this link happened first: the inode cannot be recycled while this
	 * call runs, and its nlink stays exact. */
	spin_lock(&bn->lock);
	ip = bo == bn ? entry_inode(chain_find(bo, old, NULL)) : lookup(bo, old);
	if (!ip) {
		spin_unlock(&bn->lock);
		return scal_fail(res, KUT_ENOENT);
	}
	if (chain_find(bn, new_name, NULL)) {
		spin_unlock(&bn->lock);
		return scal_fail(res, KUT_EEXIST);
	}
	scal_pin(cpu, ip);
	de = dirent_new(cpu, new_name, ip);
	if (!de) {
		spin_unlock(&bn->lock);
		return scal_fail(res, KUT_ENOSPC);
	}
	seq_write_begin(&bn->seq);
	scal_inode_nlink_add(ip, 1);
	chain_insert(bn, de);
	seq_write_end(&bn->seq);
	spin_unlock(&bn->lock);
	scal_ok(res, 0);
}

void scal_unlink(int cpu, int pid, const char *name, struct kres *res)
{
	struct scal_dirent *de, **link;
	struct scal_bucket *b;

	(void)cpu;
	if (scal_bad_pid(pid) || bad_name(name))
		return scal_fail(res, KUT_EINVAL);
	b = bucket_of(name);
	if (!lookup(b, name))
		return scal_fail(res, KUT_ENOENT);
	spin_lock(&b->lock);
	de = chain_find(b, name, &link);
	if (!de) {
		spin_unlock(&b->lock);
		return scal_fail(res, KUT_ENOENT);
	}
	/* nlink drops inside the bucket's write section, so a stat never
	 * sees the name with the lower count. */
	seq_write_begin(&b->seq);
	chain_remove(link, de);
	scal_inode_nlink_add(de->ip, -1);
	seq_write_end(&b->seq);
	spin_unlock(&b->lock);
	scal_ok(res, 0);
}

/* rename_locked moves src to dst with both buckets locked; 0 or -errno. */
static s64 rename_locked(int cpu, struct scal_bucket *bs, const char *src, struct scal_bucket *bd, const char *dst)
{
	struct scal_dirent *des, *ded, *de = NULL, **link;

	des = chain_find(bs, src, &link);
	if (!des)
		return -KUT_ENOENT;
	ded = chain_find(bd, dst, NULL);
	if (ded && ded->ip == des->ip)
		return 0;
	if (!ded && !(de = dirent_new(cpu, dst, des->ip)))
		return -KUT_ENOSPC;
	seq_write_begin(&bs->seq);
	if (bd != bs)
		seq_write_begin(&bd->seq);
	/* Remove first: inserting at the head could move src's link. */
	chain_remove(link, des);
	if (ded) {
		scal_inode_nlink_add(ded->ip, -1);
		__atomic_store_n(&ded->ip, des->ip, __ATOMIC_RELEASE);
	} else {
		chain_insert(bd, de);
	}
	if (bd != bs)
		seq_write_end(&bd->seq);
	seq_write_end(&bs->seq);
	return 0;
}

void scal_rename(int cpu, int pid, const char *src, const char *dst, struct kres *res)
{
	struct scal_inode *ips, *ipd;
	struct scal_bucket *bs, *bd;
	s64 r;

	if (scal_bad_pid(pid) || bad_name(src) || bad_name(dst))
		return scal_fail(res, KUT_EINVAL);
	bs = bucket_of(src);
	bd = bucket_of(dst);
	/* ENOENT, and a rename onto itself, need only src's bucket. */
	if (!lookup(bs, src))
		return scal_fail(res, KUT_ENOENT);
	if (strcmp(src, dst) == 0)
		return scal_ok(res, 0);
	lookup2(bs, src, &ips, bd, dst, &ipd);
	if (!ips)
		return scal_fail(res, KUT_ENOENT);
	if (ipd == ips)
		return scal_ok(res, 0);
	lock_two(bs, bd);
	r = rename_locked(cpu, bs, src, bd, dst);
	unlock_two(bs, bd);
	if (r < 0)
		return scal_fail(res, -r);
	scal_ok(res, 0);
}

void scal_stat(int cpu, int pid, const char *name, struct kres *res)
{
	struct scal_inode *ip;
	struct scal_bucket *b;
	struct kres st;
	u32 s;

	(void)cpu;
	if (scal_bad_pid(pid) || bad_name(name))
		return scal_fail(res, KUT_EINVAL);
	b = bucket_of(name);
	do {
		s = seq_begin(&b->seq);
		ip = entry_inode(chain_find(b, name, NULL));
		if (ip)
			scal_inode_stat(ip, &st);
	} while (seq_retry(&b->seq, s));
	if (!ip)
		return scal_fail(res, KUT_ENOENT);
	res->size = st.size;
	res->nlink = st.nlink;
	res->fifo = 0;
	scal_ok(res, 0);
}
