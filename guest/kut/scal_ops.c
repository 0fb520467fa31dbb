/*
 * scalable's entry points: init, reset, and the ops table. Every call is
 * bracketed by scal_enter and scal_exit (see scal_gate.c), which write
 * only the calling CPU's own line.
 */
#include "scal.h"

static int cpu_ok(int cpu) { return cpu >= 0 && cpu < KUT_NCPU; }

/*
 * scal_reset puts back only what is in use: the page table entries the
 * CPUs logged, the descriptor slots and buckets that are set, and the
 * objects not free; then it rebuilds the free stacks as init left them,
 * so every test starts from the same state. Data pages are not touched
 * (they are zeroed when handed out).
 */
static void scal_reset(void)
{
	scal_vm_clear();
	scal_fd_clear();
	scal_dir_clear();
	for (int i = 0; i < KUT_MAX_INODES; i++)
		if (scal.inodes[i].state != SCAL_FREE)
			scal_inode_clear(&scal.inodes[i]);
	for (int i = 0; i < KUT_MAX_FILES; i++)
		if (scal.files[i].pos.state != SCAL_FREE)
			scal_file_clear(&scal.files[i]);
	for (int i = 0; i < KUT_MAX_PIPES; i++)
		if (scal.pipes[i].state != SCAL_FREE)
			scal_pipe_clear(&scal.pipes[i]);
	for (int i = 0; i < KUT_MAX_NAMES; i++)
		if (scal.dirents[i].state != SCAL_FREE)
			scal_dirent_clear(&scal.dirents[i]);
	for (int c = 0; c < KUT_NCPU; c++) {
		scal.cpus[c].next_ino = 0;
		scal.cpus[c].npin = 0;
	}
	scal_pools_rebuild();
}

static int scal_init(int ncpus)
{
	static int ready;

	if (!ready) {
		scal_pools_init(ncpus);
		scal_gate_init();
		ready = 1;
	}
	scal_reset();
	return 0;
}

static void op_dup2(int cpu, int spid, int sfd, int dpid, int dfd, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_dup2(cpu, spid, sfd, dpid, dfd, res);
	scal_exit(cpu);
}

static void op_open(int cpu, int pid, const char *name, int flags, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_open(cpu, pid, name, flags, res);
	scal_exit(cpu);
}

static void op_link(int cpu, int pid, const char *old, const char *new_name, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_link(cpu, pid, old, new_name, res);
	scal_exit(cpu);
}

static void op_unlink(int cpu, int pid, const char *name, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_unlink(cpu, pid, name, res);
	scal_exit(cpu);
}

static void op_rename(int cpu, int pid, const char *src, const char *dst, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_rename(cpu, pid, src, dst, res);
	scal_exit(cpu);
}

static void op_stat(int cpu, int pid, const char *name, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_stat(cpu, pid, name, res);
	scal_exit(cpu);
}

static void op_fstat(int cpu, int pid, int fd, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_fstat(cpu, pid, fd, res);
	scal_exit(cpu);
}

static void op_lseek(int cpu, int pid, int fd, s64 off, int whence, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_lseek(cpu, pid, fd, off, whence, res);
	scal_exit(cpu);
}

static void op_close(int cpu, int pid, int fd, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_close(cpu, pid, fd, res);
	scal_exit(cpu);
}

static void op_pipe(int cpu, int pid, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_pipe(cpu, pid, res);
	scal_exit(cpu);
}

static void op_read(int cpu, int pid, int fd, u8 *buf, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_read(cpu, pid, fd, buf, res);
	scal_exit(cpu);
}

static void op_write(int cpu, int pid, int fd, const u8 *buf, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_write(cpu, pid, fd, buf, res);
	scal_exit(cpu);
}

static void op_pread(int cpu, int pid, int fd, s64 off, u8 *buf, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_pread(cpu, pid, fd, off, buf, res);
	scal_exit(cpu);
}

static void op_pwrite(int cpu, int pid, int fd, s64 off, const u8 *buf, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_pwrite(cpu, pid, fd, off, buf, res);
	scal_exit(cpu);
}

static void op_mmap(int cpu, int pid, s64 va, int fixed, int anon, int writable, int fd, s64 off,
		    struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_mmap(cpu, pid, va, fixed, anon, writable, fd, off, res);
	scal_exit(cpu);
}

static void op_munmap(int cpu, int pid, s64 va, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_munmap(cpu, pid, va, res);
	scal_exit(cpu);
}

static void op_mprotect(int cpu, int pid, s64 va, int writable, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_mprotect(cpu, pid, va, writable, res);
	scal_exit(cpu);
}

static void op_memread(int cpu, int pid, s64 va, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_memread(cpu, pid, va, res);
	scal_exit(cpu);
}

static void op_memwrite(int cpu, int pid, s64 va, u8 data, struct kres *res)
{
	if (!cpu_ok(cpu))
		return scal_fail(res, KUT_EINVAL);
	scal_enter(cpu);
	scal_memwrite(cpu, pid, va, data, res);
	scal_exit(cpu);
}

const struct kut_ops kut_scalable = {
	.name = "scalable",
	.init = scal_init,
	.reset = scal_reset,
	.dup2 = op_dup2,
	.open = op_open,
	.link = op_link,
	.unlink = op_unlink,
	.rename = op_rename,
	.stat = op_stat,
	.fstat = op_fstat,
	.lseek = op_lseek,
	.close = op_close,
	.pipe = op_pipe,
	.read = op_read,
	.write = op_write,
	.pread = op_pread,
	.pwrite = op_pwrite,
	.mmap = op_mmap,
	.munmap = op_munmap,
	.mprotect = op_mprotect,
	.memread = op_memread,
	.memwrite = op_memwrite,
};
