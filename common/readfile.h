/*
 * The one reader of small files: sysfs attributes, proc files,
 * os-release, state files.  Nothing here waits on a FIFO or a terminal:
 * only regular files are read (sysfs and proc files are), opened
 * non-blocking.
 */
#ifndef EVG_READFILE_H
#define EVG_READFILE_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Read the file at path into buf, NUL-terminated.  Returns its length,
 * or -1 with errno as the failing call left it, EINVAL for a file that
 * is not regular, EFBIG for one that does not fit in size - 1 bytes.
 */
ssize_t	 readfile_buf(const char *, char *, size_t);
/*
 * Read a whole file of at most max bytes (proc files have no size: read
 * to the end) into a new NUL-terminated buffer the caller frees; *lenp
 * (if not NULL) is its length, NULs inside included.  Returns NULL with
 * errno set as for readfile_buf() and, when cause is not NULL, *cause
 * (caller frees): "cannot open PATH: why", "PATH: not a regular file",
 * "PATH: larger than MAX bytes" or "cannot read PATH: why".
 */
char	*readfile_alloc(const char *, size_t, size_t *, char **);
/*
 * Strip white space from both ends of the string buf, in place (what is
 * left moved to buf).  Returns buf, or NULL if nothing is left.
 */
char	*readfile_trim(char *);
/*
 * readfile_buf(), then readfile_trim(): a text attribute.  Returns buf,
 * or NULL if the file is missing, too long or blank (virtio-blk prints an
 * empty serial when the host set none).
 */
char	*readfile_text(const char *, char *, size_t);

#endif
