/*
 * scalable's pipes. The data (a ring of pages) is under the pipe's lock;
 * the counts of open read and write descriptions are each on their own
 * line, under their end's lock, together with the descriptor counts of
 * that end's descriptions. Closing a read end and closing a write end
 * thus touch different lines. Once a pipe exists its counts only go
 * down, which lets a read of an empty pipe with writers (EAGAIN) and a
 * write without readers (EPIPE) or to a full pipe (EAGAIN) answer from
 * plain loads, writing nothing.
 */
#include "scal.h"
#include "string.h"

static struct scal_pipe *pipe_new(int cpu)
{
	int idx = scal_pool_get(cpu, SP_PIPE);
	struct scal_pipe *pp;

	if (idx < 0)
		return NULL;
	pp = &scal.pipes[idx];
	pp->head = 0;
	pp->count = 0;
	pp->end[0].count = 1;
	pp->end[1].count = 1;
	pp->state = SCAL_LIVE;
	return pp;
}

void scal_pipe_clear(struct scal_pipe *pp)
{
	for (int i = 0; i < KUT_MAX_UNITS; i++)
		pp->unit[i] = NULL;
	pp->head = 0;
	pp->count = 0;
	pp->end[0].count = 0;
	pp->end[1].count = 0;
	pp->state = SCAL_FREE;
}

/* scal_pipe_free recycles a pipe with no open end (scal_reclaim). */
void scal_pipe_free(int cpu, struct scal_pipe *pp)
{
	for (int i = 0; i < pp->count; i++)
		scal_page_put(cpu, pp->unit[(pp->head + i) % KUT_MAX_UNITS]);
	scal_pipe_clear(pp);
	scal_pool_put(cpu, SP_PIPE, pp->index);
}

static struct scal_pipe_end *end_of(struct scal_file *f)
{
	return &f->pp->end[f->type == SCAL_F_PIPE_WRITE];
}

/* scal_pipe_hold adds a descriptor to a pipe end's description (dup2). */
void scal_pipe_hold(struct scal_file *f)
{
	struct scal_pipe_end *e = end_of(f);

	spin_lock(&e->lock);
	f->pos.nfd++;
	spin_unlock(&e->lock);
}

/* scal_pipe_drop drops a descriptor; the last one closes the description,
 * which stays readable (dead) for lookups already holding it. */
void scal_pipe_drop(struct scal_file *f)
{
	struct scal_pipe_end *e = end_of(f);

	spin_lock(&e->lock);
	if (--f->pos.nfd == 0) {
		__atomic_store_n(&e->count, e->count - 1, __ATOMIC_RELEASE);
		f->pos.state = SCAL_DEAD;
	}
	spin_unlock(&e->lock);
}

/* pipe_discard frees a pipe and its descriptions, none of them visible. */
static void pipe_discard(int cpu, struct scal_pipe *pp, struct scal_file *r, struct scal_file *w)
{
	if (r)
		scal_file_discard(cpu, r);
	if (w)
		scal_file_discard(cpu, w);
	scal_pipe_clear(pp);
	scal_pool_put(cpu, SP_PIPE, pp->index);
}

void scal_pipe(int cpu, int pid, struct kres *res)
{
	struct scal_file *r = NULL, *w = NULL;
	struct scal_pipe *pp;
	int fd0, fd1;

	if (scal_bad_pid(pid))
		return scal_fail(res, KUT_EINVAL);
	pp = pipe_new(cpu);
	if (!pp)
		return scal_fail(res, KUT_EMFILE);
	r = scal_file_new(cpu, SCAL_F_PIPE_READ, NULL, pp);
	w = r ? scal_file_new(cpu, SCAL_F_PIPE_WRITE, NULL, pp) : NULL;
	fd0 = w ? scal_fd_install(pid, r) : -1;
	if (fd0 < 0) {
		pipe_discard(cpu, pp, r, w);
		return scal_fail(res, KUT_EMFILE);
	}
	fd1 = scal_fd_install(pid, w);
	if (fd1 < 0) {
		/* The read end was visible for a moment: close both ends the
		 * usual way and leave the rest to scal_reclaim. */
		scal_fd_uninstall(pid, fd0);
		scal_pipe_drop(r);
		scal_pipe_drop(w);
		return scal_fail(res, KUT_EMFILE);
	}
	res->fd0 = fd0;
	res->fd1 = fd1;
	scal_ok(res, 0);
}

void scal_pipe_read(int cpu, struct scal_file *f, u8 *buf, struct kres *res)
{
	struct scal_pipe *pp = f->pp;
	s64 writers;
	u8 *page;

	if (f->type != SCAL_F_PIPE_READ)
		return scal_fail(res, KUT_EBADF);
	if (__atomic_load_n(&pp->count, __ATOMIC_ACQUIRE) == 0 &&
	    __atomic_load_n(&pp->end[1].count, __ATOMIC_ACQUIRE) > 0)
		return scal_fail(res, KUT_EAGAIN);
	spin_lock(&pp->lock);
	if (pp->count == 0) {
		writers = __atomic_load_n(&pp->end[1].count, __ATOMIC_ACQUIRE);
		spin_unlock(&pp->lock);
		if (writers > 0)
			return scal_fail(res, KUT_EAGAIN);
		return scal_ok(res, 0);
	}
	page = pp->unit[pp->head];
	pp->unit[pp->head] = NULL;
	pp->head = (pp->head + 1) % KUT_MAX_UNITS;
	__atomic_store_n(&pp->count, pp->count - 1, __ATOMIC_RELEASE);
	spin_unlock(&pp->lock);
	if (page) {
		memcpy(buf, page, KUT_UNIT);
		res->data = page[0];
		scal_page_put(cpu, page);
	} else {
		memset(buf, 0, KUT_UNIT);
		res->data = 0;
	}
	scal_ok(res, 1);
}

void scal_pipe_write(int cpu, struct scal_file *f, const u8 *buf, struct kres *res)
{
	struct scal_pipe *pp = f->pp;
	u8 *page = NULL;
	s64 err = 0;

	if (f->type != SCAL_F_PIPE_WRITE)
		return scal_fail(res, KUT_EBADF);
	if (__atomic_load_n(&pp->end[0].count, __ATOMIC_ACQUIRE) == 0)
		return scal_fail(res, KUT_EPIPE);
	if (__atomic_load_n(&pp->count, __ATOMIC_ACQUIRE) == KUT_MAX_UNITS &&
	    __atomic_load_n(&pp->end[0].count, __ATOMIC_ACQUIRE) > 0)
		return scal_fail(res, KUT_EAGAIN);
	/* The page is filled before the lock; the pins keep the description
	 * and the pipe should the allocation have to reclaim. */
	scal_pin(cpu, f);
	scal_pin(cpu, pp);
	if (!scal_unit_is_zero(buf)) {
		page = scal_page_get(cpu);
		if (!page)
			return scal_fail(res, KUT_ENOSPC);
		memcpy(page, buf, KUT_UNIT);
	}
	spin_lock(&pp->lock);
	if (__atomic_load_n(&pp->end[0].count, __ATOMIC_ACQUIRE) == 0)
		err = KUT_EPIPE;
	else if (pp->count == KUT_MAX_UNITS)
		err = KUT_EAGAIN;
	if (!err) {
		pp->unit[(pp->head + pp->count) % KUT_MAX_UNITS] = page;
		__atomic_store_n(&pp->count, pp->count + 1, __ATOMIC_RELEASE);
	}
	spin_unlock(&pp->lock);
	if (err) {
		scal_page_put(cpu, page);
		return scal_fail(res, err);
	}
	scal_ok(res, 1);
}
