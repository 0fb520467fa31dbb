/*
 * scalable's inodes and file data.
 *
 * An inode's length and each of its data units are on lines of their
 * own, each with a lock and a sequence count; a unit has a valid flag
 * (unit below the length) and its data page. The link count is per-CPU
 * deltas (struct scal_nlink), each on its own line. Reading a unit
 * (read, pread, memread) only reads that unit's line; writing inside the
 * file (pwrite, memwrite) locks only that unit; only calls that change
 * the length (appending, writing past the end, truncating) take the size
 * lock, and then the locks of the units whose valid flag they change, so
 * that a unit's valid flag and data only change under the unit's lock.
 * link, unlink and rename only touch the caller's link count delta.
 * stat reads the link count and size lines as of one instant.
 */
#include "scal.h"
#include "string.h"

struct scal_inode *scal_inode_new(int cpu)
{
	int idx = scal_pool_get(cpu, SP_INODE);
	struct scal_inode *ip;
	struct scal_cpu *c = &scal.cpus[cpu];

	if (idx < 0)
		return NULL;
	ip = &scal.inodes[idx];
	ip->ino = (u64)cpu + KUT_NCPU * c->next_ino++;
	scal_inode_nlink_add(ip, cpu, 1);
	ip->size.len = 0;
	ip->state = SCAL_LIVE;
	return ip;
}

/* scal_inode_clear empties an inode no call can see, without freeing pages. */
void scal_inode_clear(struct scal_inode *ip)
{
	for (int i = 0; i < KUT_MAX_UNITS; i++) {
		struct scal_unit *u = &ip->unit[i];
		if (u->valid || u->page || u->seq) {
			u->valid = 0;
			u->page = NULL;
			u->seq = 0;
		}
	}
	scal_ref_clear(&ip->ref);
	for (int c = 0; c < KUT_NCPU; c++) {
		struct scal_link_delta *l = &ip->nlink.cpu[c];
		if (l->n || l->seq) {
			l->n = 0;
			l->seq = 0;
		}
	}
	ip->size.seq = 0;
	ip->size.len = 0;
	ip->state = SCAL_FREE;
}

/* scal_inode_discard frees an inode that was never visible. */
void scal_inode_discard(int cpu, struct scal_inode *ip)
{
	scal_inode_clear(ip);
	scal_pool_put(cpu, SP_INODE, ip->index);
}

/* scal_inode_free frees an unreferenced inode and its pages (scal_reclaim). */
void scal_inode_free(int cpu, struct scal_inode *ip)
{
	for (int i = 0; i < KUT_MAX_UNITS; i++)
		scal_page_put(cpu, ip->unit[i].page);
	scal_inode_discard(cpu, ip);
}

/* scal_inode_nlink_add changes the link count by d, writing only cpu's
 * delta (no other CPU writes it, so no lock). */
void scal_inode_nlink_add(struct scal_inode *ip, int cpu, s64 d)
{
	struct scal_link_delta *l = &ip->nlink.cpu[cpu];

	seq_write_begin(&l->seq);
	__atomic_store_n(&l->n, l->n + d, __ATOMIC_RELAXED);
	seq_write_end(&l->seq);
}

/* nlink_read sums the deltas, noting each one's seq in s. */
static s64 nlink_read(struct scal_inode *ip, u32 *s)
{
	s64 n = 0;

	for (int c = 0; c < KUT_NCPU; c++) {
		s[c] = seq_begin(&ip->nlink.cpu[c].seq);
		n += __atomic_load_n(&ip->nlink.cpu[c].n, __ATOMIC_RELAXED);
	}
	return n;
}

static int nlink_changed(struct scal_inode *ip, const u32 *s)
{
	for (int c = 0; c < KUT_NCPU; c++)
		if (seq_retry(&ip->nlink.cpu[c].seq, s[c]))
			return 1;
	return 0;
}

/* scal_inode_nlink_sum is the link count (exact only with no other CPU
 * in a call: scal_reclaim). */
s64 scal_inode_nlink_sum(struct scal_inode *ip)
{
	u32 s[KUT_NCPU];

	return nlink_read(ip, s);
}

/* scal_inode_stat reports size and link count as of one instant: every
 * line read stayed unchanged from its first read to the last check. */
void scal_inode_stat(struct scal_inode *ip, struct kres *res)
{
	u32 s[KUT_NCPU], z;
	s64 len, nlink;

	do {
		z = seq_begin(&ip->size.seq);
		len = __atomic_load_n(&ip->size.len, __ATOMIC_RELAXED);
		nlink = nlink_read(ip, s);
	} while (seq_retry(&ip->size.seq, z) || nlink_changed(ip, s));
	res->size = len;
	res->nlink = nlink;
	res->fifo = 0;
	scal_ok(res, 0);
}

s64 scal_inode_len(struct scal_inode *ip) { return __atomic_load_n(&ip->size.len, __ATOMIC_RELAXED); }

/*
 * scal_inode_read copies unit off into buf (when buf is not NULL), sets
 * *data to its value, and returns 1; or returns 0 past the end of the
 * file. It writes nothing shared: it copies optimistically and retries if
 * the unit changed meanwhile (a page freed meanwhile stays a page of the
 * pool, so the copy is only wasted).
 */
int scal_inode_read(struct scal_inode *ip, s64 off, u8 *buf, s64 *data)
{
	struct scal_unit *u;
	u32 s, valid;
	u8 *page;
	s64 d = 0;

	if (off < 0 || off >= KUT_MAX_UNITS)
		return 0;
	u = &ip->unit[off];
	do {
		s = seq_begin(&u->seq);
		valid = __atomic_load_n(&u->valid, __ATOMIC_RELAXED);
		page = __atomic_load_n(&u->page, __ATOMIC_RELAXED);
		if (valid && page) {
			if (buf)
				memcpy(buf, page, KUT_UNIT);
			d = __atomic_load_n(&page[0], __ATOMIC_RELAXED);
		} else if (valid) {
			if (buf)
				memset(buf, 0, KUT_UNIT);
			d = 0;
		}
	} while (seq_retry(&u->seq, s));
	if (!valid)
		return 0;
	*data = d;
	return 1;
}

/* unit_holds says (optimistically) whether valid unit u already holds
 * buf, so that writing it would change nothing. */
static int unit_holds(struct scal_unit *u, const u8 *buf)
{
	int same;
	u32 s;

	do {
		s = seq_begin(&u->seq);
		u8 *page = __atomic_load_n(&u->page, __ATOMIC_RELAXED);
		if (!__atomic_load_n(&u->valid, __ATOMIC_RELAXED))
			same = 0;
		else if (page)
			same = memcmp(page, buf, KUT_UNIT) == 0;
		else
			same = scal_unit_is_zero(buf);
	} while (seq_retry(&u->seq, s));
	return same;
}

/* store_locked writes buf into unit u (its lock held, and the unit valid
 * or being made valid); -KUT_ENOSPC when it needs a page and none is left. */
static s64 store_locked(int cpu, struct scal_unit *u, const u8 *buf)
{
	u8 *page = u->page;

	if (!page && scal_unit_is_zero(buf))
		return 1;
	if (!page && !(page = scal_page_get(cpu)))
		return -KUT_ENOSPC;
	seq_write_begin(&u->seq);
	memcpy(page, buf, KUT_UNIT);
	__atomic_store_n(&u->page, page, __ATOMIC_RELAXED);
	seq_write_end(&u->seq);
	return 1;
}

/*
 * extend writes unit off at or past the end of the file, making the units
 * from the old length up to off valid (those before off as holes). It
 * returns 0 when another writer made off valid first (the caller retries
 * inside the file).
 */
static s64 extend(int cpu, struct scal_inode *ip, s64 off, const u8 *buf)
{
	struct scal_unit *u;
	u8 *page = NULL;
	s64 len;

	spin_lock(&ip->size.lock);
	len = ip->size.len;
	if (off < len) {
		spin_unlock(&ip->size.lock);
		return 0;
	}
	if (!scal_unit_is_zero(buf) && !(page = scal_page_get(cpu))) {
		spin_unlock(&ip->size.lock);
		return -KUT_ENOSPC;
	}
	for (s64 i = len; i <= off; i++)
		spin_lock(&ip->unit[i].lock);
	seq_write_begin(&ip->size.seq);
	for (s64 i = len; i < off; i++) {
		struct scal_unit *u = &ip->unit[i];
		seq_write_begin(&u->seq);
		__atomic_store_n(&u->valid, 1, __ATOMIC_RELAXED);
		seq_write_end(&u->seq);
	}
	/* The unit becomes valid with its data, never as zeros first. */
	if (page)
		memcpy(page, buf, KUT_UNIT);
	u = &ip->unit[off];
	seq_write_begin(&u->seq);
	__atomic_store_n(&u->page, page, __ATOMIC_RELAXED);
	__atomic_store_n(&u->valid, 1, __ATOMIC_RELAXED);
	seq_write_end(&u->seq);
	__atomic_store_n(&ip->size.len, off + 1, __ATOMIC_RELAXED);
	seq_write_end(&ip->size.seq);
	for (s64 i = off; i >= len; i--)
		spin_unlock(&ip->unit[i].lock);
	spin_unlock(&ip->size.lock);
	return 1;
}

/*
 * scal_inode_write writes unit off from buf, appending or leaving holes
 * as needed; it returns 1 or -errno. Writing what a unit already holds
 * writes nothing at all, so such a write commutes with reads for free.
 */
s64 scal_inode_write(int cpu, struct scal_inode *ip, s64 off, const u8 *buf)
{
	struct scal_unit *u;
	s64 r;

	if (off < 0)
		return -KUT_EINVAL;
	if (off >= KUT_MAX_UNITS)
		return -KUT_EFBIG;
	u = &ip->unit[off];
	if (unit_holds(u, buf))
		return 1;
	for (;;) {
		spin_lock(&u->lock);
		if (u->valid) {
			r = store_locked(cpu, u, buf);
			spin_unlock(&u->lock);
			return r;
		}
		spin_unlock(&u->lock);
		r = extend(cpu, ip, off, buf);
		if (r != 0)
			return r;
	}
}

/*
 * scal_inode_poke stores byte into the first byte of unit off (a store
 * through a shared mapping) and returns the signal: 0, or SIGBUS past the
 * end of the file (or when no page is left to hold the data).
 */
int scal_inode_poke(int cpu, struct scal_inode *ip, s64 off, u8 byte)
{
	struct scal_unit *u;
	s64 cur;
	int sig = 0;

	if (!scal_inode_read(ip, off, NULL, &cur))
		return KUT_SIGBUS;
	if (cur == byte)
		return 0;
	u = &ip->unit[off];
	spin_lock(&u->lock);
	if (!u->valid) {
		sig = KUT_SIGBUS;
	} else if (u->page) {
		__atomic_store_n(&u->page[0], byte, __ATOMIC_RELAXED);
	} else {
		u8 *page = scal_page_get(cpu);
		if (page) {
			page[0] = byte;
			seq_write_begin(&u->seq);
			__atomic_store_n(&u->page, page, __ATOMIC_RELAXED);
			seq_write_end(&u->seq);
		} else {
			sig = KUT_SIGBUS;
		}
	}
	spin_unlock(&u->lock);
	return sig;
}

/* scal_inode_truncate empties the file (open with O_TRUNC); an empty file
 * is left untouched. */
void scal_inode_truncate(int cpu, struct scal_inode *ip)
{
	u8 *pages[KUT_MAX_UNITS];
	s64 len;

	if (scal_inode_len(ip) == 0)
		return;
	spin_lock(&ip->size.lock);
	len = ip->size.len;
	for (s64 i = 0; i < len; i++)
		spin_lock(&ip->unit[i].lock);
	seq_write_begin(&ip->size.seq);
	for (s64 i = 0; i < len; i++) {
		struct scal_unit *u = &ip->unit[i];
		seq_write_begin(&u->seq);
		pages[i] = u->page;
		__atomic_store_n(&u->valid, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&u->page, NULL, __ATOMIC_RELAXED);
		seq_write_end(&u->seq);
	}
	__atomic_store_n(&ip->size.len, 0, __ATOMIC_RELAXED);
	seq_write_end(&ip->size.seq);
	for (s64 i = len - 1; i >= 0; i--)
		spin_unlock(&ip->unit[i].lock);
	spin_unlock(&ip->size.lock);
	for (s64 i = 0; i < len; i++)
		scal_page_put(cpu, pages[i]);
}
