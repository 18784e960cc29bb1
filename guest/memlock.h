/*
 * Memory locking for the processes that may run while filesystems are
 * frozen: the daemon, `snapshot create` and the freeze guardian.
 *
 * What must never happen while a filesystem is frozen is a page fault that
 * waits for a disk read: the program's own pages come from the file it
 * was started from, which may sit on a filesystem being frozen, and a
 * page of it that was never read (or was dropped from the page cache)
 * would be read from there.  memlock_process() therefore makes every
 * file-backed mapping of the process (the program's text, read-only data
 * and data: the static binary, or it and its shared libraries) resident
 * and locked at once, and locks anonymous memory (heap, stack, bss) as it
 * is first touched (MCL_ONFAULT): a page that was touched stays resident
 * and never goes to swap, and a page first touched later is a new zero
 * page, which needs no disk, like heap the process grows while frozen.
 * Untouched anonymous memory (the log hold buffer, the unused part of the
 * stack and of the heap's top pad) is then not resident, which is what
 * keeps the idle daemon small; populating all of it, as mlockall() without
 * MCL_ONFAULT does, bought nothing a frozen filesystem could need.
 *
 * That is for the long-lived processes (the daemon, the guardian), whose
 * resident size matters.  A short-lived `snapshot create` asks for
 * MEMLOCK_ALL instead, when the host first asks it to freeze: everything
 * populated and locked at once, as mlockall(MCL_CURRENT | MCL_FUTURE)
 * does (in a VM, a page populated by mlock() costs a fraction of a page
 * fault, and its size does not matter).  So does a kernel without
 * MCL_ONFAULT (before 4.4).
 */
#ifndef EVG_MEMLOCK_H
#define EVG_MEMLOCK_H

#define MEMLOCK_ONFAULT	0	/* files now, anonymous memory as touched */
#define MEMLOCK_ALL	1	/* everything now */

/*
 * Lock as described above, once per process: a later call does nothing
 * and returns what the first did.  Returns 0, or -1 with errno set by the
 * call that failed (EPERM, ENOMEM: no privilege or RLIMIT_MEMLOCK);
 * whatever could be locked stays locked.  Writes nothing, logs nothing.
 */
int	memlock_process(int);

/*
 * Tune malloc for a long-lived small process (the daemon, the guardian):
 * one arena, fixed mmap and trim thresholds (so that freeing one large
 * buffer does not raise them and keep the heap's high-water mark
 * resident for good).  Call before the first allocation that matters.
 */
void	memlock_malloc_tune(void);

#endif
