/*
 * Status codes shared by the guest and control channels, their names (as
 * printed in --json errors), default messages and CLI exit codes.  The
 * numeric values are on the wire (Status.code) and never change.
 */
#ifndef EVG_STATUS_H
#define EVG_STATUS_H

enum evg_status {
	EVG_OK = 0,
	EVG_INVALID_ARGUMENT = 1,
	EVG_NOT_FOUND = 2,
	EVG_ALREADY_EXISTS = 3,
	EVG_NO_SPACE = 4,
	EVG_BUSY = 5,
	EVG_PERMISSION_DENIED = 6,
	EVG_FAILED_PRECONDITION = 7,
	EVG_UNAVAILABLE = 8,
	EVG_HOOK_FAILED = 9,
	EVG_FREEZE_FAILED = 10,
	EVG_TIMEOUT = 11,
	EVG_BACKEND_ERROR = 12,
	EVG_UNSUPPORTED = 13,
	EVG_INTERNAL = 14,
};
#define EVG_STATUS_MAX	EVG_INTERNAL

/* CLI exit codes that are not status codes. */
#define EXIT_USAGE		2
#define EXIT_UNREACHABLE	3

/* Name such as "NO_SPACE"; unknown codes give "INTERNAL". */
const char	*status_name(unsigned int);
/* Code for a name, or -1 if the name is unknown. */
int		 status_from_name(const char *);
/* One-line default description of a code. */
const char	*status_description(unsigned int);
/* Exit code a CLI uses for a code (0 for OK, never 2 or 3 otherwise). */
int		 status_exit_code(unsigned int);
/*
 * The status of a state-file write that failed with errno err: NO_SPACE
 * when the filesystem is full (ENOSPC, EDQUOT), else INTERNAL.
 */
int		 status_of_write_error(int);

#endif
