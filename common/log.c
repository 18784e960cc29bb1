/* Logging to stderr or syslog, with a hold buffer for frozen periods. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "text.h"

/* Messages kept while held; older ones are dropped past this many. */
#define LOG_HOLD_MAX	256
#define LOG_LINE_MAX	1024

static const char	*log_name = "evg";
static int		 log_target = LOG_TO_STDERR;
static int		 log_verbose;
static int		 log_held;
static struct {
	int	 prio;
	char	 line[LOG_LINE_MAX];
}			 log_buf[LOG_HOLD_MAX];
static size_t		 log_nbuf;
static size_t		 log_dropped;

/* Set the program name, the target and the verbosity. */
void
log_init(const char *name, int target, int verbose)
{
	log_name = name;
	log_target = target;
	log_verbose = verbose;
	if (target == LOG_TO_SYSLOG)
		openlog(name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Change verbosity (0 quiet, 1 info, 2 debug). */
void
log_set_verbose(int v)
{
	log_verbose = v;
}

/* Return the current verbosity. */
int
log_get_verbose(void)
{
	return (log_verbose);
}

/* Write one finished line to the target. */
static void
log_emit(int prio, const char *line)
{
	if (log_target == LOG_TO_SYSLOG)
		syslog(prio, "%s", line);
	else
		fprintf(stderr, "%s: %s\n", log_name, line);
}

/* Start or stop holding messages in memory; stopping flushes them. */
void
log_hold(int on)
{
	size_t	i;
	char	note[128];

	log_held = on;
	if (on)
		return;
	for (i = 0; i < log_nbuf; i++)
		log_emit(log_buf[i].prio, log_buf[i].line);
	if (log_dropped != 0) {
		snprintf(note, sizeof note, "%zu log messages dropped while "
		    "filesystems were frozen", log_dropped);
		log_emit(LOG_WARNING, note);
	}
	log_nbuf = log_dropped = 0;
}

/*
 * Format and emit or hold one message.  The finished line is escaped as a
 * whole (text_escape), so text a peer supplied can never start a forged
 * line, move the cursor or carry malformed UTF-8 into the log.
 */
static void
log_vlog(int prio, int with_errno, const char *fmt, va_list ap)
{
	char	raw[LOG_LINE_MAX], line[LOG_LINE_MAX];
	int	saved = errno;
	size_t	len;

	vsnprintf(raw, sizeof raw, fmt, ap);
	if (with_errno) {
		len = strlen(raw);
		snprintf(raw + len, sizeof raw - len, ": %s",
		    strerror(saved));
	}
	text_escape(line, sizeof line, raw);
	if (log_held) {
		if (log_nbuf == LOG_HOLD_MAX) {
			log_dropped++;
		} else {
			log_buf[log_nbuf].prio = prio;
			memcpy(log_buf[log_nbuf].line, line, sizeof line);
			log_nbuf++;
		}
	} else
		log_emit(prio, line);
	errno = saved;
}

/* Warning followed by strerror(errno). */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

/* Warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

/* Informational message, shown at verbosity 1 and above. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

/* Debug message, shown at verbosity 2. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/* Broken invariant with errno: log (never held) and exit. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;

	log_held = 0;
	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Broken invariant: log (never held) and exit. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	log_held = 0;
	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Escape bytes as C-style text into buf; returns buf. */
char *
log_escape(char *buf, size_t size, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 o = 0, keep = 0, i;
	char			 piece[8];
	int			 n;

	if (size < 4) {
		if (size > 0)
			buf[0] = '\0';
		return (buf);
	}
	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			n = snprintf(piece, sizeof piece, "%c", p[i]);
		else
			n = snprintf(piece, sizeof piece, "\\x%02x", p[i]);
		/* Cut where "..." still fits once a piece would not. */
		if (o + (size_t)n + 1 > size) {
			memcpy(buf + keep, "...", 4);
			return (buf);
		}
		memcpy(buf + o, piece, (size_t)n);
		o += (size_t)n;
		if (o + 4 <= size)
			keep = o;
	}
	buf[o] = '\0';
	return (buf);
}
