/*
 * mono's pipes: non-blocking, a ring of up to KUT_MAX_UNITS data pages,
 * all under the FS lock. readers and writers count the open descriptions
 * of each end; the pipe is freed when both reach zero.
 */
#include "mono.h"
#include "string.h"

static void pipe_locked(int pid, struct kres *res)
{
	int rfd = mono_fd_lowest(pid, 0);
	int wfd = rfd < 0 ? -1 : mono_fd_lowest(pid, rfd + 1);
	struct mono_file *r, *w;
	struct mono_pipe *pp;

	if (wfd < 0)
		return mono_fail(res, KUT_EMFILE);
	r = mono_file_alloc();
	w = mono_file_alloc();
	pp = mono_pipe_alloc();
	if (!r || !w || !pp) {
		/* Descriptions still of type MONO_F_FREE release nothing. */
		if (r)
			mono_file_put(r);
		if (w)
			mono_file_put(w);
		if (pp)
			mono_pipe_free(pp);
		return mono_fail(res, pp ? KUT_EMFILE : KUT_ENOMEM);
	}
	r->type = MONO_F_PIPE_READ;
	w->type = MONO_F_PIPE_WRITE;
	r->pp = w->pp = pp;
	pp->readers = pp->writers = 1;
	mono_procs[pid].fd[rfd] = r;
	mono_procs[pid].fd[wfd] = w;
	res->fd0 = rfd;
	res->fd1 = wfd;
	mono_ok(res, 0);
}

void mono_pipe(int cpu, int pid, struct kres *res)
{
	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	spin_lock(&mono_fs.lock);
	pipe_locked(pid, res);
	spin_unlock(&mono_fs.lock);
}

/* mono_pipe_end_closed runs when f, a pipe end, loses its last
 * descriptor. */
void mono_pipe_end_closed(struct mono_file *f)
{
	struct mono_pipe *pp = f->pp;

	if (f->type == MONO_F_PIPE_READ)
		pp->readers--;
	else
		pp->writers--;
	if (pp->readers == 0 && pp->writers == 0)
		mono_pipe_free(pp);
}

/* An empty pipe reads as end of file only once no writer is left. */
void mono_pipe_read(struct mono_file *f, u8 *buf, struct kres *res)
{
	struct mono_pipe *pp = f->pp;
	struct mono_page *pg;

	if (f->type != MONO_F_PIPE_READ)
		return mono_fail(res, KUT_EBADF);
	if (pp->count == 0) {
		if (pp->writers > 0)
			return mono_fail(res, KUT_EAGAIN);
		return mono_ok(res, 0);
	}
	pg = pp->unit[pp->head];
	pp->unit[pp->head] = NULL;
	pp->head = (pp->head + 1) % KUT_MAX_UNITS;
	pp->count--;
	memcpy(buf, pg->b, KUT_UNIT);
	res->data = pg->b[0];
	mono_page_free(pg);
	mono_ok(res, 1);
}

/* As in Linux, a pipe without readers fails before a full one does. */
void mono_pipe_write(struct mono_file *f, const u8 *buf, struct kres *res)
{
	struct mono_pipe *pp = f->pp;
	struct mono_page *pg;

	if (f->type != MONO_F_PIPE_WRITE)
		return mono_fail(res, KUT_EBADF);
	if (pp->readers == 0)
		return mono_fail(res, KUT_EPIPE);
	if (pp->count == KUT_MAX_UNITS)
		return mono_fail(res, KUT_EAGAIN);
	pg = mono_page_alloc();
	if (!pg)
		return mono_fail(res, KUT_ENOMEM);
	memcpy(pg->b, buf, KUT_UNIT);
	pp->unit[(pp->head + pp->count) % KUT_MAX_UNITS] = pg;
	pp->count++;
	mono_ok(res, 1);
}
