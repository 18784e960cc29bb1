/*
 * A record of the filesystems this process is about to freeze, kept on
 * /run (a tmpfs, never a target disk) as frozen-<pid>.  The kernel keeps a
 * freeze when the process that made it dies; a guest daemon that starts
 * later thaws what a dead process's record lists (frozenrec_recover()), so
 * an agent killed with SIGKILL mid-snapshot leaves nothing frozen for
 * longer than it takes to restart it.
 *
 * The record is written with no fsync(), of the file or of its directory,
 * on purpose.  It only matters while the kernel that holds the freeze
 * runs: a freeze does not survive a reboot or a power loss, and neither
 * need the record (/run is emptied at boot anyway; where /run is not a
 * tmpfs, a record that survives a crash names filesystems that are not
 * frozen, and thawing those is harmless: FITHAW says EINVAL).  Within one
 * running kernel, a written file is visible to every later reader at
 * once, durable or not, and nothing but a crash of the kernel loses it.
 * Syncing it cost milliseconds, just before the freeze, where /run is on
 * a disk.
 *
 * The record is written in place, into a file the process opens at its
 * first freeze and keeps (emptied, not removed, when nothing is frozen;
 * removed by frozenrec_close()).  Creating, renaming or removing a file
 * frees kernel objects through RCU, and a grace period started just
 * before FIFREEZE makes the freeze's own waits longer: FIFREEZE waits for
 * up to three grace periods (percpu_down_write, one per freeze level), and
 * on a test machine whose grace periods took 8 ms, a record renamed into
 * place made the median FIFREEZE 2-4 ms longer than one written in place.
 * A record of one page reaches a reader whole even if its writer is
 * killed while writing it; a longer one can be cut short, and the reader
 * ignores a last entry that is not NUL-terminated.
 */
#ifndef EVG_FROZENREC_H
#define EVG_FROZENREC_H

#define FROZENREC_DIR	"/run/eve-guest-agent"

struct freeze_plan;

/* Record the plan's FREEZE entries before freezing; 0 or -1 (logged). */
int	frozenrec_write(const struct freeze_plan *);
/* Nothing of ours is frozen any more: empty the record (idempotent). */
void	frozenrec_clear(void);
/* At the end of the process: remove the record if it is empty. */
void	frozenrec_close(void);
/* Thaw what records of dead processes list, then drop them. */
void	frozenrec_recover(void);
/* Use another directory (tests); NULL restores the default. */
void	frozenrec_set_dir(const char *);

#endif
