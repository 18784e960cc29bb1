/*
 * Records of frozen filesystems, and thawing those a dead agent left.
 * Written without fsync(): see frozenrec.h.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "freeze.h"
#include "frozenrec.h"
#include "log.h"
#include "xmalloc.h"

#define FROZENREC_MAX	(256 * 1024)

static char	frozenrec_dir[1024] = FROZENREC_DIR;

/* Use another directory; see frozenrec.h. */
void
frozenrec_set_dir(const char *dir)
{
	snprintf(frozenrec_dir, sizeof frozenrec_dir, "%s",
	    dir != NULL ? dir : FROZENREC_DIR);
}

/* This process's record path. */
static void
frozenrec_path(char *buf, size_t len, long pid)
{
	snprintf(buf, len, "%s/frozen-%ld", frozenrec_dir, pid);
}

/*
 * This process's record, open from its first freeze to frozenrec_close():
 * the descriptor, the pid it was opened by (a forked child does not write
 * its parent's file) and whether it may hold an entry (0: known empty).
 */
static int	frozenrec_fd = -1;
static long	frozenrec_owner;
static int	frozenrec_holds;

/* The record's descriptor, opened (and emptied) at first use; -1, *cause. */
static int
frozenrec_open(char **cause)
{
	struct stat	st;
	char		path[PATH_MAX];
	long		pid = (long)getpid();

	if (frozenrec_fd != -1 && frozenrec_owner == pid)
		return (frozenrec_fd);
	if (frozenrec_fd != -1)
		close(frozenrec_fd);	/* the parent's, inherited */
	frozenrec_fd = -1;
	if (atomicfile_mkdirs(frozenrec_dir, 0700, cause) != 0)
		return (-1);
	frozenrec_path(path, sizeof path, pid);
	frozenrec_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (frozenrec_fd == -1) {
		xasprintf(cause, "open %s: %s", path, strerror(errno));
		return (-1);
	}
	frozenrec_owner = pid;
	/* A leftover of this pid (a process long gone) is no record of ours. */
	frozenrec_holds = fstat(frozenrec_fd, &st) != 0 || st.st_size != 0;
	return (frozenrec_fd);
}

/* Empty the open record: 0, or -1 with errno set. */
static int
frozenrec_empty(void)
{
	if (!frozenrec_holds)
		return (0);
	if (ftruncate(frozenrec_fd, 0) == -1)
		return (-1);
	frozenrec_holds = 0;
	return (0);
}

/*
 * Write len bytes of buf as the record, in place, without fsync(): see
 * frozenrec.h.  Returns 0, or -1 with *cause (the record then empty).
 */
static int
frozenrec_put(const char *buf, size_t len, char **cause)
{
	off_t	off = 0;
	ssize_t	n;
	int	fd;

	if ((fd = frozenrec_open(cause)) == -1)
		return (-1);
	if (frozenrec_empty() == -1) {
		xasprintf(cause, "empty the record: %s", strerror(errno));
		return (-1);
	}
	while (len > 0) {
		n = pwrite(fd, buf, len, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			xasprintf(cause, "write the record: %s", n == 0 ?
			    strerror(ENOSPC) : strerror(errno));
			(void)frozenrec_empty();
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
		off += n;
		frozenrec_holds = 1;
	}
	return (0);
}

/*
 * The mount points the plan freezes, NUL-separated, into buf (NULL: only
 * counted), at most FROZENREC_MAX bytes; returns the length.
 */
static size_t
frozenrec_pack(const struct freeze_plan *plan, char *buf)
{
	const struct freeze_entry	*e;
	size_t				 i, len = 0, n;

	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		if (freeze_entry_action(e) != FREEZE_ACTION_FREEZE)
			continue;
		n = strlen(freeze_entry_mountpoint(e)) + 1;
		if (len + n > FROZENREC_MAX)
			break;
		if (buf != NULL)
			memcpy(buf + len, freeze_entry_mountpoint(e), n);
		len += n;
	}
	return (len);
}

/* Record the mount points about to be frozen (NUL-separated). */
int
frozenrec_write(const struct freeze_plan *plan)
{
	char	*buf, *cause;
	size_t	len;
	int	rc;

	/* Sized to what it holds: a freeze is no time to touch more. */
	buf = xmalloc(frozenrec_pack(plan, NULL) + 1);
	len = frozenrec_pack(plan, buf);
	rc = frozenrec_put(buf, len, &cause);
	if (rc != 0) {
		log_warnx("%s: %s", __func__, cause);
		free(cause);
	}
	free(buf);
	return (rc);
}

/* Empty this process's record (the file stays for the next freeze). */
void
frozenrec_clear(void)
{
	if (frozenrec_fd == -1 || frozenrec_owner != (long)getpid())
		return;
	if (frozenrec_empty() == -1)
		log_warn("%s: empty the record", __func__);
}

/* Remove this process's record unless it still lists a freeze. */
void
frozenrec_close(void)
{
	char	path[PATH_MAX];

	if (frozenrec_fd == -1)
		return;
	if (frozenrec_owner == (long)getpid() && !frozenrec_holds) {
		frozenrec_path(path, sizeof path, frozenrec_owner);
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("%s: unlink %s", __func__, path);
	}
	close(frozenrec_fd);
	frozenrec_fd = -1;
}

/* Thaw every mount point of one dead process's record. */
static void
frozenrec_thaw_file(const char *path, long pid)
{
	char	*buf, *p, *cause, esc[256];
	size_t	 len;
	int	 fd, n = 0;

	if ((buf = atomicfile_read(path, FROZENREC_MAX, &len, &cause)) ==
	    NULL) {
		if (cause != NULL) {
			log_warnx("%s: %s", __func__, cause);
			free(cause);
		}
		return;
	}
	for (p = buf; p < buf + len; p += strlen(p) + 1) {
		log_escape(esc, sizeof esc, p, strlen(p));
		/* Cut off: its writer died in the middle of writing it. */
		if (p + strlen(p) == buf + len) {
			log_warnx("%s: %s: ignoring a cut-off last entry %s",
			    __func__, path, esc);
			break;
		}
		if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			log_warn("%s: %s", __func__, esc);
			continue;
		}
		/* EINVAL: not frozen (any more); nothing to do. */
		if (ioctl(fd, FITHAW, 0) == 0) {
			log_warnx("thawed %s, left frozen by agent process "
			    "%ld, which is gone", esc, pid);
			n++;
		} else if (errno != EINVAL)
			log_warn("%s: FITHAW %s", __func__, esc);
		close(fd);
	}
	free(buf);
	if (unlink(path) == -1)
		log_warn("%s: unlink %s", __func__, path);
	(void)n;
}

/* Thaw what dead processes left frozen; see frozenrec.h. */
void
frozenrec_recover(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX], *end;
	long		 pid;

	if ((d = opendir(frozenrec_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "frozen-", 7) != 0)
			continue;
		pid = strtol(de->d_name + 7, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == (long)getpid())
			continue;
		/* A live process still owns its freeze (and its lease). */
		if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
			continue;
		snprintf(path, sizeof path, "%s/%s", frozenrec_dir, de->d_name);
		frozenrec_thaw_file(path, pid);
	}
	closedir(d);
}
