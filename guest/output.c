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

/*
 * The consistency of s in one line; plural says that its mounts are those
 * of several disks (a group's).  See output_consistency_text().
 */
static char *
output_consistency_line(const Evg__Snapshot *s, int plural)
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
		output_append(&line, " (no filesystem on the %s could be "
		    "frozen", plural ? "disks" : "disk");
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

/* The consistency in one line; see output.h. */
char *
output_consistency_text(const Evg__Snapshot *s)
{
	return (output_consistency_line(s, 0));
}

/* True if mount r is in mounts[0..n) already (same mount point). */
static int
output_has_mount(Evg__MountReport *const *mounts, size_t n,
    const Evg__MountReport *r)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(mounts[i]->mountpoint, r->mountpoint) == 0)
			return (1);
	}
	return (0);
}

/*
 * A group's consistency in one line; see output.h.  The group had one
 * freeze: its record is the union of the members' (a host may give each
 * member the mounts of its own disk, or all of them), the longest freeze
 * time and the group's (weakest) level.
 */
char *
output_group_consistency_text(const struct snapgroup *g)
{
	Evg__Snapshot		 all;
	const Evg__Snapshot	*m;
	char			*line;
	size_t			 i, j;

	if (g->nmembers == 1)
		return (output_consistency_text(g->members[0]));
	all = *g->members[0];
	all.consistency = (char *)g->consistency;
	all.n_mounts = 0;
	all.mounts = NULL;
	for (i = 0; i < g->nmembers; i++) {
		m = g->members[i];
		if (m->freeze_ms > all.freeze_ms)
			all.freeze_ms = m->freeze_ms;
		for (j = 0; j < m->n_mounts; j++) {
			if (output_has_mount(all.mounts, all.n_mounts,
			    m->mounts[j]))
				continue;
			all.mounts = xreallocarray(all.mounts, all.n_mounts + 1,
			    sizeof *all.mounts);
			all.mounts[all.n_mounts++] = m->mounts[j];
		}
	}
	line = output_consistency_line(&all, 1);
	free(all.mounts);
	return (line);
}

/* Device names joined for one table cell; see output.h. */
char *
output_join(char *const *names, size_t n, const char *sep)
{
	char	*line = NULL, buf[256];
	size_t	 i;

	for (i = 0; i < n; i++) {
		output_append(&line, "%s%s", i == 0 ? "" : sep,
		    names[i] != NULL ? output_safe(buf, sizeof buf, names[i]) :
		    "-");
	}
	return (line != NULL ? line : xstrdup(""));
}
