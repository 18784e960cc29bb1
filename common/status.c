/* Status code names, descriptions and CLI exit codes. */
#include <errno.h>
#include <string.h>

#include "status.h"

static const struct {
	const char	*name;
	const char	*description;
	int		 exit_code;
} status_table[] = {
	[EVG_OK] = { "OK", "success", 0 },
	[EVG_INVALID_ARGUMENT] = { "INVALID_ARGUMENT", "invalid argument", 10 },
	[EVG_NOT_FOUND] = { "NOT_FOUND", "not found", 11 },
	[EVG_ALREADY_EXISTS] = { "ALREADY_EXISTS", "already exists", 12 },
	[EVG_NO_SPACE] = { "NO_SPACE", "not enough free space", 13 },
	[EVG_BUSY] = { "BUSY", "another operation is in progress", 14 },
	[EVG_PERMISSION_DENIED] = { "PERMISSION_DENIED", "permission denied",
	    15 },
	[EVG_FAILED_PRECONDITION] = { "FAILED_PRECONDITION",
	    "precondition not met", 16 },
	[EVG_UNAVAILABLE] = { "UNAVAILABLE", "service unavailable", 17 },
	[EVG_HOOK_FAILED] = { "HOOK_FAILED", "snapshot hook failed", 18 },
	[EVG_FREEZE_FAILED] = { "FREEZE_FAILED", "filesystem freeze failed",
	    19 },
	[EVG_TIMEOUT] = { "TIMEOUT", "operation timed out", 20 },
	[EVG_BACKEND_ERROR] = { "BACKEND_ERROR", "snapshot backend error",
	    21 },
	[EVG_UNSUPPORTED] = { "UNSUPPORTED", "not supported", 22 },
	[EVG_INTERNAL] = { "INTERNAL", "internal error", 23 },
};

/* Name of a code; unknown codes read as INTERNAL. */
const char *
status_name(unsigned int code)
{
	if (code > EVG_STATUS_MAX)
		code = EVG_INTERNAL;
	return (status_table[code].name);
}

/* Code for a name, or -1. */
int
status_from_name(const char *name)
{
	unsigned int	i;

	for (i = 0; i <= EVG_STATUS_MAX; i++)
		if (strcmp(status_table[i].name, name) == 0)
			return ((int)i);
	return (-1);
}

/* Default description; unknown codes read as INTERNAL. */
const char *
status_description(unsigned int code)
{
	if (code > EVG_STATUS_MAX)
		code = EVG_INTERNAL;
	return (status_table[code].description);
}

/* Exit code for a CLI; unknown codes read as INTERNAL. */
int
status_exit_code(unsigned int code)
{
	if (code > EVG_STATUS_MAX)
		code = EVG_INTERNAL;
	return (status_table[code].exit_code);
}

/* Status of a failed state write; see status.h. */
int
status_of_write_error(int err)
{
	return (err == ENOSPC || err == EDQUOT ? EVG_NO_SPACE : EVG_INTERNAL);
}
