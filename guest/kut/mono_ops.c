/*
 * mono's entry points: init, reset and the ops table the harness calls.
 */
#include "console.h"
#include "mono.h"

static int mono_init(int ncpus)
{
	static int ready;

	(void)ncpus; /* mono keeps no per-CPU state */
	if (!ready)
		mono_pools_init();
	ready = 1;
	return 0;
}

/*
 * mono_reset runs before every test, so it puts back only what is in
 * use: the mappings, the descriptors and the directory entries. Dropping
 * those frees every inode, description, pipe and page through the usual
 * reference counts; if anything is still counted in use after that, the
 * counts were wrong, and the pools are rebuilt so the next test starts
 * clean anyway.
 */
static void mono_reset(void)
{
	int p;

	for (p = 0; p < KUT_NPROC; p++)
		mono_as_clear(p);
	spin_lock(&mono_fs.lock);
	for (p = 0; p < KUT_NPROC; p++)
		mono_fd_close_all(p);
	mono_dir_clear();
	spin_unlock(&mono_fs.lock);
	if (mono_fs.ninodes || mono_fs.nnames || mono_fs.nfiles || mono_fs.npipes ||
	    mono_fs.npages) {
		kprintf("mono: reset leaked %d inodes %d names %d files %d pipes %d pages\n",
			mono_fs.ninodes, mono_fs.nnames, mono_fs.nfiles, mono_fs.npipes,
			mono_fs.npages);
		mono_pools_rebuild();
	}
	/* Inode numbers restart so that every test sees the same ones. */
	mono_fs.next_ino = 1;
}

const struct kut_ops kut_mono = {
	.name = "mono",
	.init = mono_init,
	.reset = mono_reset,
	.dup2 = mono_dup2,
	.open = mono_open,
	.link = mono_link,
	.unlink = mono_unlink,
	.rename = mono_rename,
	.stat = mono_stat,
	.fstat = mono_fstat,
	.lseek = mono_lseek,
	.close = mono_close,
	.pipe = mono_pipe,
	.read = mono_read,
	.write = mono_write,
	.pread = mono_pread,
	.pwrite = mono_pwrite,
	.mmap = mono_mmap,
	.munmap = mono_munmap,
	.mprotect = mono_mprotect,
	.memread = mono_memread,
	.memwrite = mono_memwrite,
};
