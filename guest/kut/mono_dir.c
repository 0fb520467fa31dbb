/*
 * mono's directory: one singly linked list of {name, inode} entries,
 * searched linearly under the FS lock, and the calls that take names.
 */
#include "mono.h"
#include "string.h"

/* name_check returns 0 for a usable name, else the errno to fail with. */
static int name_check(const char *name)
{
	size_t n = 0;

	if (!name)
		return KUT_EINVAL;
	while (n <= KUT_NAME_MAX && name[n])
		n++;
	if (n > KUT_NAME_MAX)
		return KUT_EINVAL;
	if (n == 0)
		return KUT_ENOENT;
	return 0;
}

/* dir_find returns the link that points at name's entry, or at NULL (the
 * list's end) when there is none; the caller unlinks through it. */
static struct mono_dirent **dir_find(const char *name)
{
	struct mono_dirent **link = &mono_fs.dir;

	while (*link && strcmp((*link)->name, name) != 0)
		link = &(*link)->next;
	return link;
}

/* dir_add adds name for ip, taking a link; it returns 0 or an errno. */
static int dir_add(const char *name, struct mono_inode *ip)
{
	struct mono_dirent *de = mono_dirent_alloc();

	if (!de)
		return KUT_ENOSPC;
	memcpy(de->name, name, strlen(name) + 1);
	de->ip = ip;
	ip->nlink++;
	de->next = mono_fs.dir;
	mono_fs.dir = de;
	return 0;
}

/* dir_remove unlinks the entry *link points at and drops its link. */
static void dir_remove(struct mono_dirent **link)
{
	struct mono_dirent *de = *link;
	struct mono_inode *ip = de->ip;

	*link = de->next;
	mono_dirent_free(de);
	ip->nlink--;
	mono_inode_release(ip);
}

/* mono_dir_clear removes every entry (reset). */
void mono_dir_clear(void)
{
	while (mono_fs.dir)
		dir_remove(&mono_fs.dir);
}

static void trunc_inode(struct mono_inode *ip)
{
	s32 i;

	for (i = 0; i < ip->len; i++) {
		mono_page_free(ip->unit[i]);
		ip->unit[i] = NULL;
	}
	ip->len = 0;
}

/* create makes a new inode named name, or returns NULL (ENOSPC). */
static struct mono_inode *create(const char *name)
{
	struct mono_inode *ip = mono_inode_alloc();

	if (!ip)
		return NULL;
	if (dir_add(name, ip) != 0) {
		mono_inode_release(ip);
		return NULL;
	}
	return ip;
}

/*
 * open_locked finds the inode name refers to (or creates it) and installs
 * a new description at the lowest free descriptor. As Linux does, the
 * descriptor and the description are found before the name is looked up,
 * so a full table fails with EMFILE whatever the name.
 */
static void open_locked(int pid, const char *name, int flags, struct kres *res)
{
	int fd = mono_fd_lowest(pid, 0);
	struct mono_dirent *de;
	struct mono_inode *ip;
	struct mono_file *f;

	if (fd < 0)
		return mono_fail(res, KUT_EMFILE);
	f = mono_file_alloc();
	if (!f)
		return mono_fail(res, KUT_EMFILE);
	de = *dir_find(name);
	if (de && (flags & KUT_O_CREAT) && (flags & KUT_O_EXCL)) {
		mono_file_put(f);
		return mono_fail(res, KUT_EEXIST);
	}
	if (!de && !(flags & KUT_O_CREAT)) {
		mono_file_put(f);
		return mono_fail(res, KUT_ENOENT);
	}
	ip = de ? de->ip : create(name);
	if (!ip) {
		mono_file_put(f);
		return mono_fail(res, KUT_ENOSPC);
	}
	if (de && (flags & KUT_O_TRUNC))
		trunc_inode(ip);
	f->type = MONO_F_INODE;
	f->ip = ip;
	ip->nfile++;
	mono_procs[pid].fd[fd] = f;
	mono_ok(res, fd);
}

void mono_open(int cpu, int pid, const char *name, int flags, struct kres *res)
{
	int err = name_check(name);

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	if (err)
		return mono_fail(res, err);
	spin_lock(&mono_fs.lock);
	open_locked(pid, name, flags, res);
	spin_unlock(&mono_fs.lock);
}

static void link_locked(const char *old, const char *new_name, struct kres *res)
{
	struct mono_dirent *de = *dir_find(old);
	int err;

	if (!de)
		return mono_fail(res, KUT_ENOENT);
	if (*dir_find(new_name))
		return mono_fail(res, KUT_EEXIST);
	err = dir_add(new_name, de->ip);
	if (err)
		return mono_fail(res, err);
	mono_ok(res, 0);
}

/* two_names checks the arguments of a call on two names, then runs
 * locked, the call itself, under the file-system lock. */
static void two_names(int pid, const char *a, const char *b, struct kres *res,
		      void (*locked)(const char *, const char *, struct kres *))
{
	int err = name_check(a);

	if (!err)
		err = name_check(b);
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	if (err)
		return mono_fail(res, err);
	spin_lock(&mono_fs.lock);
	locked(a, b, res);
	spin_unlock(&mono_fs.lock);
}

void mono_link(int cpu, int pid, const char *old, const char *new_name, struct kres *res)
{
	(void)cpu;
	two_names(pid, old, new_name, res, link_locked);
}

void mono_unlink(int cpu, int pid, const char *name, struct kres *res)
{
	int err = name_check(name);
	struct mono_dirent **link;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	if (err)
		return mono_fail(res, err);
	spin_lock(&mono_fs.lock);
	link = dir_find(name);
	if (*link) {
		dir_remove(link);
		mono_ok(res, 0);
	} else {
		mono_fail(res, KUT_ENOENT);
	}
	spin_unlock(&mono_fs.lock);
}

/*
 * rename_locked follows POSIX: renaming a name to itself, or to another
 * name of the same inode, does nothing; an existing dst is replaced,
 * which drops a link of the inode it named.
 */
static void rename_locked(const char *src, const char *dst, struct kres *res)
{
	struct mono_dirent **slink = dir_find(src);
	struct mono_dirent *s = *slink, *d;
	struct mono_inode *old;

	if (!s)
		return mono_fail(res, KUT_ENOENT);
	mono_ok(res, 0);
	if (strcmp(src, dst) == 0)
		return;
	d = *dir_find(dst);
	if (!d) {
		/* No entry to replace: the source entry just changes name. */
		memcpy(s->name, dst, strlen(dst) + 1);
		return;
	}
	if (d->ip == s->ip)
		return;
	old = d->ip;
	d->ip = s->ip;
	s->ip->nlink++; /* dst's new link; dir_remove drops src's */
	dir_remove(slink);
	old->nlink--;
	mono_inode_release(old);
}

void mono_rename(int cpu, int pid, const char *src, const char *dst, struct kres *res)
{
	(void)cpu;
	two_names(pid, src, dst, res, rename_locked);
}

void mono_stat(int cpu, int pid, const char *name, struct kres *res)
{
	int err = name_check(name);
	struct mono_dirent *de;

	(void)cpu;
	if (mono_bad_pid(pid))
		return mono_fail(res, KUT_EINVAL);
	if (err)
		return mono_fail(res, err);
	spin_lock(&mono_fs.lock);
	de = *dir_find(name);
	if (de)
		mono_stat_inode(de->ip, res);
	else
		mono_fail(res, KUT_ENOENT);
	spin_unlock(&mono_fs.lock);
}
