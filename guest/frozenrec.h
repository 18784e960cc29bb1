/*
 * A record of the filesystems this process is about to freeze, kept on
 * /run (a tmpfs, never a target disk) as frozen-<pid>.  The kernel keeps a
 * freeze when the process that made it dies; a guest daemon that starts
 * later thaws what a dead process's record lists (frozenrec_recover()), so
 * an agent killed with SIGKILL mid-snapshot leaves nothing frozen for
 * longer than it takes to restart it.
 */
#ifndef EVG_FROZENREC_H
#define EVG_FROZENREC_H

#define FROZENREC_DIR	"/run/eve-guest-agent"

struct freeze_plan;

/* Record the plan's FREEZE entries before freezing; 0 or -1 (logged). */
int	frozenrec_write(const struct freeze_plan *);
/* Nothing of ours is frozen any more: drop the record (idempotent). */
void	frozenrec_clear(void);
/* Thaw what records of dead processes list, then drop them. */
void	frozenrec_recover(void);
/* Use another directory (tests); NULL restores the default. */
void	frozenrec_set_dir(const char *);

#endif
