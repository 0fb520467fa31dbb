/*
 * mono's address spaces: a software page table per process, kept as an
 * unsorted list of one-page mappings searched linearly under that
 * process's lock. A file mapping holds its inode (nmap) and reads and
 * writes the inode's data pages under the FS lock, taken inside the
 * address space lock.
 */
#include "mono.h"

static int va_ok(s64 va) { return va >= 0 && va < KUT_VA_PAGES; }

static struct mono_vma *vma_find(struct mono_as *as, s64 va)
{
	struct mono_vma *v;

	for (v = as->vmas; v; v = v->next)
		if (v->va == va)
			return v;
	return NULL;
}

/* unmap_inode drops a mapping's hold on ip. */
static void unmap_inode(struct mono_inode *ip)
{
	spin_lock(&mono_fs.lock);
	ip->nmap--;
	mono_inode_release(ip);
	spin_unlock(&mono_fs.lock);
}

/* vma_drop releases what v maps, leaving v itself in place. */
static void vma_drop(struct mono_vma *v)
{
	if (v->anon) {
		if (v->page)
			mono_page_free(v->page);
		v->page = NULL;
	} else {
		unmap_inode(v->ip);
		v->ip = NULL;
	}
}

/* vma_remove unmaps *link's mapping and puts it on the free list. */
static void vma_remove(struct mono_as *as, struct mono_vma **link)
{
	struct mono_vma *v = *link;

	*link = v->next;
	vma_drop(v);
	v->next = as->free;
	as->free = v;
	as->nvmas--;
}

/* mono_as_clear unmaps everything pid has mapped (reset). */
void mono_as_clear(int pid)
{
	struct mono_as *as = &mono_as[pid];

	while (as->vmas)
		vma_remove(as, &as->vmas);
}

/*
 * map_inode finds the inode a file mapping of fd maps and takes a hold on
 * it, or returns NULL with *err set. As in Linux, a pipe end fails on its
 * access mode first (only the read end, read-only, is open for that
 * mapping) and then because a pipe cannot be mapped.
 */
static struct mono_inode *map_inode(int pid, int fd, int writable, s64 off, int *err)
{
	struct mono_inode *ip = NULL;
	struct mono_file *f;

	spin_lock(&mono_fs.lock);
	f = mono_fd_get(pid, fd);
	if (!f)
		*err = KUT_EBADF;
	else if (f->type == MONO_F_PIPE_WRITE || (f->type == MONO_F_PIPE_READ && writable))
		*err = KUT_EACCES;
	else if (f->type != MONO_F_INODE)
		*err = KUT_ENODEV;
	else if (off < 0)
		*err = KUT_EINVAL;
	else
		ip = f->ip;
	if (ip)
		ip->nmap++;
	spin_unlock(&mono_fs.lock);
	return ip;
}

/* free_va picks the highest unmapped page, away from the low pages that
 * fixed mappings tend to use; -1 when every page is mapped. */
static s64 free_va(struct mono_as *as)
{
	s64 va;

	for (va = KUT_VA_PAGES - 1; va >= 0; va--)
		if (!vma_find(as, va))
			return va;
	return -1;
}

/* mmap_locked places the mapping; it returns the page or -errno. A fixed
 * mapping replaces whatever was mapped at va. */
static s64 mmap_locked(struct mono_as *as, s64 va, int fixed, int anon, int writable,
		       struct mono_inode *ip, s64 off)
{
	struct mono_vma *v = NULL;

	if (fixed && !va_ok(va))
		return -KUT_EINVAL;
	if (fixed)
		v = vma_find(as, va);
	else
		va = free_va(as);
	if (va < 0)
		return -KUT_ENOMEM;
	if (v) {
		vma_drop(v);
	} else {
		v = as->free;
		if (!v)
			return -KUT_ENOMEM;
		as->free = v->next;
		v->next = as->vmas;
		as->vmas = v;
		as->nvmas++;
	}
	v->va = va;
	v->anon = anon;
	v->writable = writable;
	v->ip = ip;
	v->off = off;
	v->page = NULL; /* anonymous pages are allocated on first write */
	return va;
}

void mono_mmap(int cpu, int pid, s64 va, int fixed, int anon, int writable, int fd, s64 off,
	       struct kres *res)
{
	struct mono_inode *ip = NULL;
	struct mono_as *as;
	int err = 0;
	s64 r;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	as = &mono_as[pid];
	anon = !!anon;
	writable = !!writable;
	spin_lock(&as->lock);
	if (!anon)
		ip = map_inode(pid, fd, writable, off, &err);
	if (err) {
		r = -err;
	} else {
		r = mmap_locked(as, va, fixed, anon, writable, ip, anon ? 0 : off);
		if (r < 0 && ip)
			unmap_inode(ip);
	}
	spin_unlock(&as->lock);
	if (r < 0)
		return mono_fail(res, -r);
	res->va = r;
	mono_ok(res, 0);
}

void mono_munmap(int cpu, int pid, s64 va, struct kres *res)
{
	struct mono_vma **link;
	struct mono_as *as;

	(void)cpu;
	if (mono_bad_pid(pid) || !va_ok(va))
		return mono_fail(res, KUT_EINVAL);
	as = &mono_as[pid];
	spin_lock(&as->lock);
	for (link = &as->vmas; *link; link = &(*link)->next) {
		if ((*link)->va == va) {
			vma_remove(as, link);
			break;
		}
	}
	spin_unlock(&as->lock);
	mono_ok(res, 0);
}

void mono_mprotect(int cpu, int pid, s64 va, int writable, struct kres *res)
{
	struct mono_vma *v;
	struct mono_as *as;

	(void)cpu;
	if (mono_bad_pid(pid) || !va_ok(va))
		return mono_fail(res, KUT_EINVAL);
	as = &mono_as[pid];
	spin_lock(&as->lock);
	v = vma_find(as, va);
	if (v)
		v->writable = !!writable;
	spin_unlock(&as->lock);
	if (v)
		mono_ok(res, 0);
	else
		mono_fail(res, KUT_ENOMEM);
}

/* file_page returns the data page v maps, or NULL past the end of the
 * file (SIGBUS). Called with mono_fs.lock held. */
static struct mono_page *file_page(struct mono_vma *v)
{
	if (v->off >= v->ip->len)
		return NULL;
	return v->ip->unit[v->off];
}

static s64 memread_locked(struct mono_vma *v, struct kres *res)
{
	struct mono_page *pg;

	if (!v)
		return KUT_SIGSEGV;
	if (v->anon) {
		res->data = v->page ? v->page->b[0] : 0;
		return 0;
	}
	spin_lock(&mono_fs.lock);
	pg = file_page(v);
	if (pg)
		res->data = pg->b[0];
	spin_unlock(&mono_fs.lock);
	return pg ? 0 : KUT_SIGBUS;
}

void mono_memread(int cpu, int pid, s64 va, struct kres *res)
{
	struct mono_as *as;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	as = &mono_as[pid];
	spin_lock(&as->lock);
	res->signal = memread_locked(va_ok(va) ? vma_find(as, va) : NULL, res);
	spin_unlock(&as->lock);
}

static s64 memwrite_locked(struct mono_vma *v, u8 data)
{
	struct mono_page *pg;

	if (!v || !v->writable)
		return KUT_SIGSEGV;
	if (v->anon) {
		if (!v->page)
			v->page = mono_page_alloc();
		/* Out of pages the fault cannot be served: SIGBUS, as Linux
		 * does when a fault fails for lack of memory. */
		if (!v->page)
			return KUT_SIGBUS;
		v->page->b[0] = data;
		return 0;
	}
	spin_lock(&mono_fs.lock);
	pg = file_page(v);
	if (pg)
		pg->b[0] = data;
	spin_unlock(&mono_fs.lock);
	return pg ? 0 : KUT_SIGBUS;
}

void mono_memwrite(int cpu, int pid, s64 va, u8 data, struct kres *res)
{
	struct mono_as *as;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	as = &mono_as[pid];
	spin_lock(&as->lock);
	res->signal = memwrite_locked(va_ok(va) ? vma_find(as, va) : NULL, data);
	spin_unlock(&as->lock);
}
