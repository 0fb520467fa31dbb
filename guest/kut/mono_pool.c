/*
 * mono's fixed pools: allocated once at init, labelled for reports, and
 * handed out from global free lists. Everything but the pages is
 * allocated under mono_fs.lock; pages have their own lock because the VM
 * calls allocate anonymous pages without the FS lock.
 */
#include "alloc.h"
#include "hypercall.h"
#include "mono.h"
#include "string.h"

struct mono_fs mono_fs;
struct mono_proc mono_procs[KUT_NPROC];
struct mono_as mono_as[KUT_NPROC];

static struct mono_inode *inode_pool;
static struct mono_dirent *name_pool;
static struct mono_file *file_pool;
static struct mono_pipe *pipe_pool;
static struct mono_page *page_pool;
static struct mono_vma *vma_pool[KUT_NPROC];

/* label names obj as "struct <type>:<idx>", the form reports resolve
 * through DWARF, so type must be the object's struct tag. */
static void label(const void *obj, size_t len, const char *type, int idx)
{
	char name[64], digits[12];
	size_t n = 0, nd = 0;
	const char *s;

	for (s = "struct "; *s; s++)
		name[n++] = *s;
	for (s = type; *s && n < sizeof name - 14; s++)
		name[n++] = *s;
	name[n++] = ':';
	do {
		digits[nd++] = (char)('0' + idx % 10);
		idx /= 10;
	} while (idx > 0);
	while (nd > 0)
		name[n++] = digits[--nd];
	name[n] = 0;
	hc_label(obj, len, name, n);
}

static void label_pools(void)
{
	int i, p;

	label(&mono_fs, sizeof mono_fs, "mono_fs", 0);
	for (p = 0; p < KUT_NPROC; p++) {
		label(&mono_procs[p], sizeof mono_procs[p], "mono_proc", p);
		label(&mono_as[p], sizeof mono_as[p], "mono_as", p);
		for (i = 0; i < MONO_NVMA; i++)
			label(&vma_pool[p][i], sizeof vma_pool[p][i], "mono_vma", p * MONO_NVMA + i);
	}
	for (i = 0; i < KUT_MAX_INODES; i++)
		label(&inode_pool[i], sizeof inode_pool[i], "mono_inode", i);
	for (i = 0; i < KUT_MAX_NAMES; i++)
		label(&name_pool[i], sizeof name_pool[i], "mono_dirent", i);
	for (i = 0; i < KUT_MAX_FILES; i++)
		label(&file_pool[i], sizeof file_pool[i], "mono_file", i);
	for (i = 0; i < KUT_MAX_PIPES; i++)
		label(&pipe_pool[i], sizeof pipe_pool[i], "mono_pipe", i);
	for (i = 0; i < KUT_MAX_PAGES; i++)
		label(&page_pool[i], sizeof page_pool[i], "mono_page", i);
}

void mono_pools_init(void)
{
	int p;

	inode_pool = kalloc_or_die(KUT_MAX_INODES * sizeof *inode_pool, CACHE_LINE);
	name_pool = kalloc_or_die(KUT_MAX_NAMES * sizeof *name_pool, CACHE_LINE);
	file_pool = kalloc_or_die(KUT_MAX_FILES * sizeof *file_pool, CACHE_LINE);
	pipe_pool = kalloc_or_die(KUT_MAX_PIPES * sizeof *pipe_pool, CACHE_LINE);
	page_pool = kalloc_or_die(KUT_MAX_PAGES * sizeof *page_pool, 4096);
	for (p = 0; p < KUT_NPROC; p++)
		vma_pool[p] = kalloc_or_die(MONO_NVMA * sizeof *vma_pool[p], CACHE_LINE);
	mono_pools_rebuild();
	label_pools();
}

/*
 * mono_pools_rebuild puts every object on its free list and empties the
 * directory, descriptor tables and address spaces, whatever they held:
 * init uses it, and reset only when the normal put-back leaked something.
 * Pages are not zeroed here; mono_page_alloc zeroes them.
 */
void mono_pools_rebuild(void)
{
	int i, p;

	memset(inode_pool, 0, KUT_MAX_INODES * sizeof *inode_pool);
	memset(name_pool, 0, KUT_MAX_NAMES * sizeof *name_pool);
	memset(file_pool, 0, KUT_MAX_FILES * sizeof *file_pool);
	memset(pipe_pool, 0, KUT_MAX_PIPES * sizeof *pipe_pool);
	memset(mono_procs, 0, sizeof mono_procs);
	mono_fs.free_inodes = NULL;
	mono_fs.free_names = NULL;
	mono_fs.free_files = NULL;
	mono_fs.free_pipes = NULL;
	mono_fs.free_pages = NULL;
	/* Pushed in reverse so that objects are handed out from index 0. */
	for (i = KUT_MAX_INODES - 1; i >= 0; i--) {
		inode_pool[i].next_free = mono_fs.free_inodes;
		mono_fs.free_inodes = &inode_pool[i];
	}
	for (i = KUT_MAX_NAMES - 1; i >= 0; i--) {
		name_pool[i].next = mono_fs.free_names;
		mono_fs.free_names = &name_pool[i];
	}
	for (i = KUT_MAX_FILES - 1; i >= 0; i--) {
		file_pool[i].next_free = mono_fs.free_files;
		mono_fs.free_files = &file_pool[i];
	}
	for (i = KUT_MAX_PIPES - 1; i >= 0; i--) {
		pipe_pool[i].next_free = mono_fs.free_pipes;
		mono_fs.free_pipes = &pipe_pool[i];
	}
	for (i = KUT_MAX_PAGES - 1; i >= 0; i--) {
		page_pool[i].next_free = mono_fs.free_pages;
		mono_fs.free_pages = &page_pool[i];
	}
	mono_fs.dir = NULL;
	mono_fs.ninodes = mono_fs.nnames = mono_fs.nfiles = 0;
	mono_fs.npipes = mono_fs.npages = 0;
	mono_fs.next_ino = 1;
	for (p = 0; p < KUT_NPROC; p++) {
		struct mono_as *as = &mono_as[p];

		memset(vma_pool[p], 0, MONO_NVMA * sizeof *vma_pool[p]);
		as->vmas = as->free = NULL;
		as->nvmas = 0;
		for (i = MONO_NVMA - 1; i >= 0; i--) {
			vma_pool[p][i].next = as->free;
			as->free = &vma_pool[p][i];
		}
	}
}
