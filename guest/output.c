/* Text and JSON output of the CLI, and its one-line errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "jsonout.h"
#include "text.h"
#include "output.h"
#include "status.h"
#include "xmalloc.h"

static const char	*output_name = "eve-guest-agent";
static int		 output_as_json;

/* Remember the program name and the output mode. */
void
output_init(const char *name, int json)
{
	output_name = name;
	output_as_json = json;
}

/* True in --json mode. */
int
output_json(void)
{
	return (output_as_json);
}

/* Print a usage error and the --help hint; returns EXIT_USAGE. */
int
output_usage(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", output_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	return (EXIT_USAGE);
}

/*
 * Copy msg with control characters turned into spaces: a message from the
 * host must stay one line on a terminal and cannot move its cursor.
 */
static char *
output_one_line(const char *msg)
{
	char	*copy, *p;

	copy = xstrdup(msg);
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	return (copy);
}

/* Print a failure in the current mode; returns the exit code. */
int
output_failure(int code, const char *cause)
{
	const char	*name;
	char		*line;
	int		 exit_code;

	if (code == CLIENT_UNREACHABLE) {
		name = status_name(EVG_UNAVAILABLE);
		exit_code = EXIT_UNREACHABLE;
		if (cause == NULL || *cause == '\0')
			cause = "cannot reach the host";
	} else {
		/* A failure reported with code OK is still a failure. */
		if (code <= EVG_OK)
			code = EVG_INTERNAL;
		name = status_name((unsigned int)code);
		exit_code = status_exit_code((unsigned int)code);
		if (cause == NULL || *cause == '\0')
			cause = status_description((unsigned int)code);
	}
	if (output_as_json) {
		output_document(jsonout_error(name, cause));
	} else {
		line = output_one_line(cause);
		fprintf(stderr, "%s: %s\n", output_name, line);
		free(line);
	}
	output_finish();
	return (exit_code);
}

/* Print a JSON document on stdout and drop the reference. */
void
output_document(struct json_object *obj)
{
	jsonout_print(stdout, obj);
}

/* Flush stdout and report a failed write. */
int
output_finish(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return (0);
	fprintf(stderr, "%s: writing output: %s\n", output_name,
	    errno != 0 ? strerror(errno) : "write error");
	return (1);
}

/* Escape s for a terminal; see output.h. */
char *
output_safe(char *buf, size_t len, const char *s)
{
	return (text_escape(buf, len, s));
}

/* Date and time in UTC for tables; returns buf. */
char *
output_time(char *buf, size_t len, uint64_t secs)
{
	return (jsonout_time_fmt(buf, len, secs, "%Y-%m-%d %H:%M:%S"));
}

/* Append fmt to *line, allocated. */
static void __attribute__((format(printf, 2, 3)))
output_append(char **line, const char *fmt, ...)
{
	char	*old = *line, *add;
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&add, fmt, ap) == -1)
		add = NULL;
	va_end(ap);
	if (add == NULL)
		return;
	xasprintf(line, "%s%s", old != NULL ? old : "", add);
	free(old);
	free(add);
}

/* The consistency in one line; see output.h. */
char *
output_consistency_text(const Evg__Snapshot *s)
{
	const Evg__MountReport	*r;
	char			*line = NULL, mp[256], why[256];
	size_t			 i, frozen = 0, skipped = 0;
	const char		*sep = "";

	for (i = 0; i < s->n_mounts; i++) {
		if (strcmp(s->mounts[i]->action, "frozen") == 0)
			frozen++;
		else
			skipped++;
	}
	output_append(&line, "%s", s->consistency[0] != '\0' ?
	    s->consistency : "unknown");
	if (frozen == 0 && strcmp(s->consistency, "crash") == 0) {
		output_append(&line, " (no filesystem on the disk could be "
		    "frozen");
		sep = "; ";
	} else if (frozen != 0) {
		output_append(&line, " (froze ");
		for (i = 0; i < s->n_mounts; i++) {
			r = s->mounts[i];
			if (strcmp(r->action, "frozen") != 0)
				continue;
			output_append(&line, "%s%s", sep, output_safe(mp,
			    sizeof mp, r->mountpoint));
			sep = ", ";
		}
		output_append(&line, " in %u ms", s->freeze_ms);
		sep = "; ";
	} else if (skipped != 0)
		output_append(&line, " (");
	for (i = 0; i < s->n_mounts; i++) {
		r = s->mounts[i];
		if (strcmp(r->action, "frozen") == 0)
			continue;
		output_append(&line, "%sskipped %s%s%s", sep, output_safe(mp,
		    sizeof mp, r->mountpoint), r->reason[0] != '\0' ? ": " : "",
		    output_safe(why, sizeof why, r->reason));
		sep = "; ";
	}
	if (frozen != 0 || skipped != 0 || strcmp(s->consistency, "crash") == 0)
		output_append(&line, ")");
	return (line);
}
