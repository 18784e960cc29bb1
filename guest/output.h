/*
 * How the CLI commands print: text for people or, with --json, exactly one
 * JSON document on stdout.  A failure is one line on stderr, or in JSON
 * mode {"error": {"code", "message"}} on stdout; either way the caller
 * exits with the code returned here.  State is process-wide: set once by
 * output_init() before any command runs.
 */
#ifndef EVG_OUTPUT_H
#define EVG_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "evg.pb-c.h"
#include "snapgroup.h"

struct json_object;

/* Program name for error lines, and whether --json was given. */
void	output_init(const char *, int);
/* True when --json was given. */
int	output_json(void);
/*
 * Print a usage error as one line on stderr, followed by a hint to try
 * --help.  Returns EXIT_USAGE.
 */
int	output_usage(const char *, ...) __attribute__((format(printf, 1, 2)));
/*
 * Print a failure: code is a status code or CLIENT_UNREACHABLE, cause the
 * message (NULL or empty uses the code's description).  Returns the exit
 * code (EXIT_UNREACHABLE for CLIENT_UNREACHABLE, never 0).
 */
int	output_failure(int, const char *);
/* Print obj as JSON on stdout; takes the caller's reference. */
void	output_document(struct json_object *);
/*
 * The consistency of a snapshot in one line (caller frees), such as
 * "fs (froze /mnt/data in 14 ms; skipped /boot/efi: vfat cannot be
 * frozen)" or "crash (no filesystem on the disk could be frozen)".
 */
char	*output_consistency_text(const Evg__Snapshot *);
/*
 * The same for a snapshot group (caller frees): its one freeze, with the
 * mounts of every member's disk; a group of one reads as its member.
 */
char	*output_group_consistency_text(const struct snapgroup *);
/*
 * names[0..n) escaped for a terminal and joined by sep, a NULL name as
 * "-" (caller frees).
 */
char	*output_join(char *const *, size_t, const char *);
/* s escaped for one terminal line (text_escape()); returns buf. */
char	*output_safe(char *, size_t, const char *);
/* "2026-11-26 12:00:00" (UTC) into buf; returns buf. */
char	*output_time(char *, size_t, uint64_t);

/*
 * Flush stdout.  Returns 0, or 1 after printing why when the output could
 * not be written (a full disk or a closed pipe must not look like success).
 */
int	output_finish(void);

#endif
