/*
 * Helpers for the disk workloads (diskread, diskwrite, diskmix): opening
 * the disk with a clear message when there is none, and their common
 * arguments.
 */
#ifndef WORKLOADS_DISK_H
#define WORKLOADS_DISK_H

#include "diskgen.h"
#include "helpers.h"
#include "string.h"
#include "vblk.h"

#define DISK_PAGE 4096UL

/* disk_open sets the disk up, or exits 2 saying why it cannot. */
static inline void disk_open(struct wctx *w)
{
	int err = vblk_init();

	if (err == VBLK_ENODEV) {
		kprintf("%s: no disk: run with --disk FILE (make one with vmm disk make FILE 1M)\n",
			w->argv[0]);
		hc_exit(2);
	}
	if (err != 0) {
		kprintf("%s: the disk cannot be used: %s\n", w->argv[0], vblk_error(err));
		hc_exit(2);
	}
	if (vblk_capacity() == 0) {
		kprintf("%s: the disk is empty\n", w->argv[0]);
		hc_exit(2);
	}
}

/*
 * disk_args reads "[COUNT] [poll|halt]" (in either order): COUNT, def
 * when absent, must be lo..hi; the wait mode is halt unless told.
 * Anything else exits 2 with usage.
 */
static inline void disk_args(struct wctx *w, const char *usage, u64 def, u64 lo, u64 hi,
			     u64 *count, enum vblk_wait *how)
{
	int have_count = 0, have_mode = 0;

	args_at_most(w, 2, usage);
	*count = def;
	*how = VBLK_HALT;
	for (int i = 1; i < w->argc; i++) {
		const char *a = w->argv[i];
		if (!have_mode && (strcmp(a, "poll") == 0 || strcmp(a, "halt") == 0)) {
			*how = strcmp(a, "poll") == 0 ? VBLK_POLL : VBLK_HALT;
			have_mode = 1;
		} else if (!have_count) {
			*count = arg_range(w, i, def, lo, hi, usage);
			have_count = 1;
		} else {
			kprintf("%s: bad argument '%s'; usage: %s %s\n", w->argv[0], a,
				w->argv[0], usage);
			hc_exit(2);
		}
	}
}

static inline const char *disk_mode(enum vblk_wait how)
{
	return how == VBLK_POLL ? "poll" : "halt";
}

/* disk_status names what vblk_wait or vblk_poll_status returned. */
static inline const char *disk_status(int st)
{
	switch (st) {
	case VBLK_S_OK:
		return "ok";
	case VBLK_S_IOERR:
		return "IOERR";
	case VBLK_S_UNSUPP:
		return "UNSUPP";
	case VBLK_S_PENDING:
		return "never completed";
	}
	return st < 0 ? vblk_error(st) : "unknown status";
}

#endif
