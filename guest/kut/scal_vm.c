/*
 * scalable's address spaces, after RadixVM: each process has a two-level
 * radix tree of page table entries (SCAL_NNODES nodes of SCAL_FANOUT
 * entries, all allocated at init), one entry per page, each on its own
 * line with its own lock and sequence count. mmap, munmap and mprotect of
 * different pages, and memread and memwrite of different pages, touch
 * different lines; memread only reads. Non-fixed mmaps look for a free
 * page in a range of their CPU's own, so two CPUs mapping anywhere do not
 * collide. A file mapping holds a reference to its inode (a per-CPU
 * delta) and goes to the inode's unit directly, as MAP_SHARED does.
 */
#include "scal.h"

/* Non-fixed mmaps of CPU c look in [SCAL_VA_AUTO + c * SCAL_VA_RANGE,
 * + SCAL_VA_RANGE) first: the upper half, away from the low pages tests
 * map at fixed addresses. */
#define SCAL_VA_AUTO (KUT_VA_PAGES / 2)
#define SCAL_VA_RANGE (KUT_VA_PAGES / 2 / KUT_NCPU)

static int va_ok(s64 va) { return va >= 0 && va < KUT_VA_PAGES; }

static struct scal_pte *pte_of(int pid, s64 va)
{
	return &scal.vm[pid]->node[va / SCAL_FANOUT]->pte[va % SCAL_FANOUT];
}

/* What a page table entry mapped, to drop once its lock is released. */
struct scal_old_map {
	int mapped, anon;
	struct scal_inode *ip;
	u8 *page;
};

static void pte_clear(struct scal_pte *p)
{
	p->mapped = 0;
	p->anon = 0;
	p->writable = 0;
	p->logged = 0;
	p->off = 0;
	p->ip = NULL;
	p->page = NULL;
	p->seq = 0;
}

/* scal_vm_clear unmaps everything (reset), visiting only the entries the
 * CPUs logged as used since the last reset. No reference is dropped: the
 * inodes and pages are all recycled by reset anyway. */
void scal_vm_clear(void)
{
	int all = 0;

	for (int c = 0; c < KUT_NCPU; c++) {
		struct scal_cpu *cp = &scal.cpus[c];
		for (int i = 0; i < cp->ntouched; i++)
			pte_clear(pte_of(cp->touched[i] / KUT_VA_PAGES, cp->touched[i] % KUT_VA_PAGES));
		all |= cp->touch_overflow;
		cp->ntouched = 0;
		cp->touch_overflow = 0;
		for (int p = 0; p < KUT_NPROC; p++)
			cp->va_next[p] = SCAL_VA_AUTO + c * SCAL_VA_RANGE;
	}
	for (int p = 0; all && p < KUT_NPROC; p++)
		for (s64 va = 0; va < KUT_VA_PAGES; va++)
			pte_clear(pte_of(p, va));
}

static void pte_log(int cpu, int pid, s64 va, struct scal_pte *p)
{
	struct scal_cpu *c = &scal.cpus[cpu];

	if (p->logged)
		return;
	p->logged = 1;
	if (c->ntouched < SCAL_TOUCH_MAX)
		c->touched[c->ntouched++] = (u16)(pid * KUT_VA_PAGES + va);
	else
		c->touch_overflow = 1;
}

/* pte_take empties p (locked), returning what it mapped. */
static struct scal_old_map pte_take(struct scal_pte *p)
{
	struct scal_old_map old = {p->mapped, p->anon, p->ip, p->page};

	if (!p->mapped)
		return old;
	seq_write_begin(&p->seq);
	__atomic_store_n(&p->mapped, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->ip, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&p->page, NULL, __ATOMIC_RELAXED);
	seq_write_end(&p->seq);
	return old;
}

/* pte_set replaces p's mapping (p locked) in one step: a fixed mmap over
 * a mapped page is never seen unmapped in between. */
static struct scal_old_map pte_set(struct scal_pte *p, int anon, int writable, s64 off, struct scal_inode *ip)
{
	struct scal_old_map old = {p->mapped, p->anon, p->ip, p->page};

	seq_write_begin(&p->seq);
	__atomic_store_n(&p->anon, (u8)anon, __ATOMIC_RELAXED);
	__atomic_store_n(&p->writable, (u8)writable, __ATOMIC_RELAXED);
	__atomic_store_n(&p->off, off, __ATOMIC_RELAXED);
	__atomic_store_n(&p->ip, ip, __ATOMIC_RELAXED);
	__atomic_store_n(&p->page, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&p->mapped, 1, __ATOMIC_RELAXED);
	seq_write_end(&p->seq);
	return old;
}

static void old_drop(int cpu, struct scal_old_map *old)
{
	if (!old->mapped)
		return;
	if (old->anon)
		scal_page_put(cpu, old->page);
	else
		scal_ref_add(&old->ip->ref, cpu, -1);
}

/* try_claim returns p locked if it is free, else NULL (not writing it). */
static struct scal_pte *try_claim(int pid, s64 va)
{
	struct scal_pte *p = pte_of(pid, va);

	if (__atomic_load_n(&p->mapped, __ATOMIC_ACQUIRE))
		return NULL;
	spin_lock(&p->lock);
	if (!p->mapped)
		return p;
	spin_unlock(&p->lock);
	return NULL;
}

/* pick finds and locks a free page for a non-fixed mmap: in the CPU's own
 * range from where it last left off, else anywhere, highest first. */
static struct scal_pte *pick(int cpu, int pid, s64 *va)
{
	struct scal_cpu *c = &scal.cpus[cpu];
	s64 base = SCAL_VA_AUTO + (s64)cpu * SCAL_VA_RANGE;
	struct scal_pte *p;

	for (s64 i = 0; i < SCAL_VA_RANGE; i++) {
		*va = base + (c->va_next[pid] - base + i) % SCAL_VA_RANGE;
		if ((p = try_claim(pid, *va))) {
			c->va_next[pid] = base + (*va - base + 1) % SCAL_VA_RANGE;
			return p;
		}
	}
	for (*va = KUT_VA_PAGES - 1; *va >= 0; (*va)--)
		if ((p = try_claim(pid, *va)))
			return p;
	return NULL;
}

/* map_inode finds the inode a file mapping of fd maps and takes a
 * reference to it, or returns NULL with *err set. As in Linux, a pipe end
 * fails on its access mode first (only the read end, read-only, passes)
 * and then because a pipe cannot be mapped. */
static struct scal_inode *map_inode(int cpu, int pid, int fd, int writable, s64 off, s64 *err)
{
	struct scal_file *f = scal_fd_get(pid, fd);

	if (!f) {
		*err = KUT_EBADF;
		return NULL;
	}
	if (f->type == SCAL_F_PIPE_WRITE || (f->type == SCAL_F_PIPE_READ && writable)) {
		*err = KUT_EACCES;
		return NULL;
	}
	if (f->type != SCAL_F_INODE) {
		*err = KUT_ENODEV;
		return NULL;
	}
	if (off < 0) {
		*err = KUT_EINVAL;
		return NULL;
	}
	scal_ref_add(&f->ip->ref, cpu, 1);
	return f->ip;
}

void scal_mmap(int cpu, int pid, s64 va, int fixed, int anon, int writable, int fd, s64 off,
	       struct kres *res)
{
	struct scal_inode *ip = NULL;
	struct scal_old_map old;
	struct scal_pte *p;
	s64 err = 0;

	if (scal_bad_pid(pid))
		return scal_fail(res, KUT_EINVAL);
	anon = !!anon;
	writable = !!writable;
	if (!anon && !(ip = map_inode(cpu, pid, fd, writable, off, &err)))
		return scal_fail(res, err);
	p = NULL;
	if (!fixed) {
		p = pick(cpu, pid, &va);
		err = KUT_ENOMEM;
	} else if (va_ok(va)) {
		p = pte_of(pid, va);
		spin_lock(&p->lock);
	} else {
		err = KUT_EINVAL;
	}
	if (!p) {
		if (ip)
			scal_ref_add(&ip->ref, cpu, -1);
		return scal_fail(res, err);
	}
	old = pte_set(p, anon, writable, anon ? 0 : off, ip);
	pte_log(cpu, pid, va, p);
	spin_unlock(&p->lock);
	old_drop(cpu, &old);
	res->va = va;
	scal_ok(res, 0);
}

void scal_munmap(int cpu, int pid, s64 va, struct kres *res)
{
	struct scal_old_map old;
	struct scal_pte *p;

	if (scal_bad_pid(pid) || !va_ok(va))
		return scal_fail(res, KUT_EINVAL);
	p = pte_of(pid, va);
	/* Unmapping nothing changes nothing: no write. */
	if (!__atomic_load_n(&p->mapped, __ATOMIC_ACQUIRE))
		return scal_ok(res, 0);
	spin_lock(&p->lock);
	old = pte_take(p);
	spin_unlock(&p->lock);
	old_drop(cpu, &old);
	scal_ok(res, 0);
}

void scal_mprotect(int cpu, int pid, s64 va, int writable, struct kres *res)
{
	struct scal_pte *p;
	int mapped, was;
	u32 s;

	(void)cpu;
	if (scal_bad_pid(pid) || !va_ok(va))
		return scal_fail(res, KUT_EINVAL);
	writable = !!writable;
	p = pte_of(pid, va);
	s = seq_begin(&p->seq);
	mapped = __atomic_load_n(&p->mapped, __ATOMIC_RELAXED);
	was = __atomic_load_n(&p->writable, __ATOMIC_RELAXED);
	if (!seq_retry(&p->seq, s) && (!mapped || was == writable))
		return mapped ? scal_ok(res, 0) : scal_fail(res, KUT_ENOMEM);
	spin_lock(&p->lock);
	mapped = p->mapped;
	if (mapped) {
		seq_write_begin(&p->seq);
		__atomic_store_n(&p->writable, (u8)writable, __ATOMIC_RELAXED);
		seq_write_end(&p->seq);
	}
	spin_unlock(&p->lock);
	if (!mapped)
		return scal_fail(res, KUT_ENOMEM);
	scal_ok(res, 0);
}

/* A snapshot of an entry and what a load from its page finds. */
struct scal_look {
	int mapped, writable, anon;
	int sig;  /* a load's signal: SIGSEGV unmapped, SIGBUS past the file's end */
	s64 data; /* a load's value when sig is 0 */
};

/* look reads p and the byte it maps without writing anything; for a
 * store (store set) to a page that is not writable it does not read the
 * page, since the store faults whatever it holds. */
static struct scal_look look(struct scal_pte *p, int store)
{
	struct scal_look l;
	u32 s;

	do {
		s = seq_begin(&p->seq);
		l.mapped = __atomic_load_n(&p->mapped, __ATOMIC_RELAXED);
		l.writable = __atomic_load_n(&p->writable, __ATOMIC_RELAXED);
		l.anon = __atomic_load_n(&p->anon, __ATOMIC_RELAXED);
		u8 *page = __atomic_load_n(&p->page, __ATOMIC_RELAXED);
		struct scal_inode *ip = __atomic_load_n(&p->ip, __ATOMIC_RELAXED);
		s64 off = __atomic_load_n(&p->off, __ATOMIC_RELAXED);
		l.data = 0;
		if (!l.mapped || (store && !l.writable))
			l.sig = KUT_SIGSEGV;
		else if (l.anon)
			l.sig = 0, l.data = page ? __atomic_load_n(&page[0], __ATOMIC_RELAXED) : 0;
		else
			l.sig = scal_inode_read(ip, off, NULL, &l.data) ? 0 : KUT_SIGBUS;
	} while (seq_retry(&p->seq, s));
	return l;
}

void scal_memread(int cpu, int pid, s64 va, struct kres *res)
{
	struct scal_look l;

	(void)cpu;
	if (scal_bad_pid(pid))
		return scal_fail(res, KUT_EINVAL);
	if (!va_ok(va)) {
		res->signal = KUT_SIGSEGV;
		return;
	}
	l = look(pte_of(pid, va), 0);
	res->signal = l.sig;
	if (l.sig == 0)
		res->data = l.data;
}

/* anon_store stores data into an anonymous page (p locked), giving it a
 * page on the first store that is not zero. */
static int anon_store(int cpu, struct scal_pte *p, u8 data)
{
	u8 *page = p->page;

	if (page) {
		__atomic_store_n(&page[0], data, __ATOMIC_RELAXED);
		return 0;
	}
	if (data == 0)
		return 0;
	/* Out of pages the fault cannot be served: SIGBUS, as Linux does
	 * when a fault fails for lack of memory. */
	if (!(page = scal_page_get(cpu)))
		return KUT_SIGBUS;
	page[0] = data;
	seq_write_begin(&p->seq);
	__atomic_store_n(&p->page, page, __ATOMIC_RELAXED);
	seq_write_end(&p->seq);
	return 0;
}

static int memwrite_locked(int cpu, struct scal_pte *p, u8 data)
{
	if (!p->mapped || !p->writable)
		return KUT_SIGSEGV;
	if (p->anon)
		return anon_store(cpu, p, data);
	return scal_inode_poke(cpu, p->ip, p->off, data);
}

void scal_memwrite(int cpu, int pid, s64 va, u8 data, struct kres *res)
{
	struct scal_look l;
	struct scal_pte *p;

	if (scal_bad_pid(pid))
		return scal_fail(res, KUT_EINVAL);
	if (!va_ok(va)) {
		res->signal = KUT_SIGSEGV;
		return;
	}
	p = pte_of(pid, va);
	/* A store that faults, or that stores what is there already, changes
	 * nothing: answer it from a snapshot. */
	l = look(p, 1);
	if (l.sig != 0 || l.data == data) {
		res->signal = l.sig;
		return;
	}
	spin_lock(&p->lock);
	res->signal = memwrite_locked(cpu, p, data);
	spin_unlock(&p->lock);
}
