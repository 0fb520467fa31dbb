/*
 * mono's allocators: global free lists and global in-use counters, the
 * way a simple kernel keeps them. All but the page allocator run with
 * mono_fs.lock held.
 */
#include "mono.h"
#include "string.h"

/* mono_page_alloc returns a zeroed page, or NULL when none is left. */
struct mono_page *mono_page_alloc(void)
{
	struct mono_page *pg;

	spin_lock(&mono_fs.page_lock);
	pg = mono_fs.free_pages;
	if (pg) {
		mono_fs.free_pages = pg->next_free;
		mono_fs.npages++;
	}
	spin_unlock(&mono_fs.page_lock);
	/* Zeroed on allocation, not on free, so that reset stays cheap. */
	if (pg)
		memset(pg, 0, sizeof *pg);
	return pg;
}

void mono_page_free(struct mono_page *pg)
{
	spin_lock(&mono_fs.page_lock);
	pg->next_free = mono_fs.free_pages;
	mono_fs.free_pages = pg;
	mono_fs.npages--;
	spin_unlock(&mono_fs.page_lock);
}

/* mono_inode_alloc returns an empty inode with no links, or NULL. */
struct mono_inode *mono_inode_alloc(void)
{
	struct mono_inode *ip = mono_fs.free_inodes;

	if (!ip)
		return NULL;
	mono_fs.free_inodes = ip->next_free;
	ip->next_free = NULL;
	ip->ino = mono_fs.next_ino++;
	ip->nlink = ip->nfile = ip->nmap = ip->len = 0;
	mono_fs.ninodes++;
	return ip;
}

/* mono_inode_release frees ip once no name, description or mapping
 * refers to it; callers call it after dropping any of those. */
void mono_inode_release(struct mono_inode *ip)
{
	s32 i;

	if (ip->ino == 0 || ip->nlink > 0 || ip->nfile > 0 || ip->nmap > 0)
		return;
	for (i = 0; i < ip->len; i++) {
		mono_page_free(ip->unit[i]);
		ip->unit[i] = NULL;
	}
	ip->len = 0;
	ip->ino = 0;
	ip->next_free = mono_fs.free_inodes;
	mono_fs.free_inodes = ip;
	mono_fs.ninodes--;
}

struct mono_dirent *mono_dirent_alloc(void)
{
	struct mono_dirent *de = mono_fs.free_names;

	if (!de)
		return NULL;
	mono_fs.free_names = de->next;
	de->next = NULL;
	mono_fs.nnames++;
	return de;
}

void mono_dirent_free(struct mono_dirent *de)
{
	de->ip = NULL;
	de->name[0] = 0;
	de->next = mono_fs.free_names;
	mono_fs.free_names = de;
	mono_fs.nnames--;
}

/* mono_file_alloc returns a description with one reference, or NULL. */
struct mono_file *mono_file_alloc(void)
{
	struct mono_file *f = mono_fs.free_files;

	if (!f)
		return NULL;
	mono_fs.free_files = f->next_free;
	f->next_free = NULL;
	f->type = MONO_F_FREE; /* until the caller says what it is */
	f->ref = 1;
	f->off = 0;
	f->ip = NULL;
	f->pp = NULL;
	mono_fs.nfiles++;
	return f;
}

/* mono_file_put drops one descriptor's reference; the last one releases
 * the description and what it refers to. */
void mono_file_put(struct mono_file *f)
{
	if (--f->ref > 0)
		return;
	if (f->type == MONO_F_INODE) {
		f->ip->nfile--;
		mono_inode_release(f->ip);
	} else if (f->type == MONO_F_PIPE_READ || f->type == MONO_F_PIPE_WRITE) {
		mono_pipe_end_closed(f);
	}
	f->type = MONO_F_FREE;
	f->ip = NULL;
	f->pp = NULL;
	f->next_free = mono_fs.free_files;
	mono_fs.free_files = f;
	mono_fs.nfiles--;
}

struct mono_pipe *mono_pipe_alloc(void)
{
	struct mono_pipe *pp = mono_fs.free_pipes;

	if (!pp)
		return NULL;
	mono_fs.free_pipes = pp->next_free;
	pp->next_free = NULL;
	pp->readers = pp->writers = 0;
	pp->head = pp->count = 0;
	mono_fs.npipes++;
	return pp;
}

void mono_pipe_free(struct mono_pipe *pp)
{
	while (pp->count > 0) {
		mono_page_free(pp->unit[pp->head]);
		pp->unit[pp->head] = NULL;
		pp->head = (pp->head + 1) % KUT_MAX_UNITS;
		pp->count--;
	}
	pp->next_free = mono_fs.free_pipes;
	mono_fs.free_pipes = pp;
	mono_fs.npipes--;
}
