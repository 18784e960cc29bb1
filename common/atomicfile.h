/*
 * Crash-safe file replacement: write a temporary file beside the target,
 * fsync it, rename it over the target and fsync the directory.  A reader
 * sees either the old or the new content, never a mix.
 */
#ifndef EVG_ATOMICFILE_H
#define EVG_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Returns 0, or -1 with *cause set (caller frees) and errno as the failing
 * call left it (ENOSPC, EDQUOT: the state directory is full).
 */
int	atomicfile_write(const char *, const void *, size_t, mode_t, char **);
/* Read a whole file (at most max bytes) into a new NUL-terminated buffer.
 * Returns NULL with errno ENOENT for a missing file, or with *cause. */
char	*atomicfile_read(const char *, size_t, size_t *, char **);
/* mkdir -p with mode for missing components; 0 or -1 with *cause. */
int	atomicfile_mkdirs(const char *, mode_t, char **);

#endif
