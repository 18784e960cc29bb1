/*
 * Who uses a disk here (diskuse.c): a mounted filesystem or a swap area
 * on it, a device-mapper (LVM, dm-crypt) or md device built on it, a
 * process holding it or one of its partitions open, or any other
 * exclusive claim of the kernel.  A disk that is to be
 * unplugged for an online rollback must be free of all of them.
 */
#ifndef EVG_DISKUSE_H
#define EVG_DISKUSE_H

#include <stddef.h>

struct disk;

/* Where to look (tests): /proc and /etc/passwd by default; NULL resets. */
void	diskuse_set_roots(const char *, const char *);
/*
 * 0 when nothing uses the whole disks (n of them, what arg named) or what
 * sits on them; else -1 with *why (allocated) naming the first user: the
 * device, or the process (pid, command, user).
 */
int	diskuse_check(const struct disk *, size_t, const char *, char **);
/*
 * Write back and drop what the kernel caches of the device arg names
 * and of its whole disks (n of them), before and after their rollback.
 */
void	diskuse_flush(const char *, const struct disk *, size_t);

#endif
