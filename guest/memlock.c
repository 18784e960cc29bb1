/*
 * Memory locking (see memlock.h): anonymous memory locked as it is
 * touched, every file-backed mapping made resident and locked at once.
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memlock.h"

/* malloc thresholds: see memlock_malloc_tune(). */
#define MEMLOCK_MMAP_THRESHOLD	(64 * 1024)
#define MEMLOCK_TRIM_THRESHOLD	(64 * 1024)
#define MEMLOCK_TOP_PAD		(16 * 1024)

/*
 * One line of /proc/self/maps: "start-end perms offset dev inode path".
 * Lock it if it maps a file and can be read or run.  Returns 0 or -1
 * (errno from mlock()).
 */
static int
memlock_line(const char *line)
{
	uintmax_t	start, end, off, inode;
	char		perms[8];
	unsigned int	dmaj, dmin;

	if (sscanf(line, "%jx-%jx %7s %jx %x:%x %ju", &start, &end, perms,
	    &off, &dmaj, &dmin, &inode) != 7)
		return (0);
	if (inode == 0 || end <= start || (perms[0] != 'r' && perms[2] != 'x'))
		return (0);
	return (mlock((void *)(uintptr_t)start, (size_t)(end - start)));
}

/* Lock and populate every file-backed mapping.  0 or -1 (errno set). */
static int
memlock_files(void)
{
	char	buf[4096], *nl, *p;
	size_t	len = 0;
	ssize_t	n;
	int	fd, rc = 0, saved = 0;

	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	for (;;) {
		n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		p = buf;
		while ((nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			if (memlock_line(p) == -1 && rc == 0) {
				saved = errno;
				rc = -1;
			}
			p = nl + 1;
		}
		/* Keep the start of a line cut by the read. */
		len = strlen(p);
		memmove(buf, p, len);
		if (len == sizeof buf - 1)
			len = 0;	/* no line is that long: drop it */
	}
	if (n == -1 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	close(fd);
	errno = saved;
	return (rc);
}

/* Lock the process's memory; see memlock.h. */
int
memlock_process(int how)
{
	static int	done, rc, saved;

	if (done) {
		errno = saved;
		return (rc);
	}
	done = 1;
	if (how == MEMLOCK_ALL ||
	    mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == -1) {
		/* No MCL_ONFAULT here (EINVAL): lock and populate everything. */
		if (how == MEMLOCK_ALL || errno == EINVAL)
			rc = mlockall(MCL_CURRENT | MCL_FUTURE);
		else
			rc = -1;
	} else
		rc = memlock_files();
	saved = rc == -1 ? errno : 0;
	return (rc);
}

/* Tune malloc for a small long-lived process; see memlock.h. */
void
memlock_malloc_tune(void)
{
	/*
	 * Setting the thresholds also turns off glibc's dynamic threshold,
	 * which would raise both to the size of the largest mmap()ed buffer
	 * freed so far: the heap would then grow into that much and never be
	 * trimmed again, locked and resident.
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, MEMLOCK_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, MEMLOCK_TRIM_THRESHOLD);
	mallopt(M_TOP_PAD, MEMLOCK_TOP_PAD);
}
