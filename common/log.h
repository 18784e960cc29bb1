/*
 * Logging for both daemons and CLIs.  Messages go to stderr (foreground,
 * CLIs) or syslog (daemons).  While log_hold(1) is in effect (the guest
 * holds filesystems frozen) messages are kept in memory instead of written
 * anywhere that could touch a disk, and log_hold(0) flushes them in order.
 * Callers prefix messages with __func__ where it helps.
 */
#ifndef EVG_LOG_H
#define EVG_LOG_H

#include <stddef.h>

#define LOG_TO_STDERR	0
#define LOG_TO_SYSLOG	1

void	log_init(const char *, int, int);
void	log_set_verbose(int);
int	log_get_verbose(void);
void	log_hold(int);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * Escape untrusted bytes for a log line into buf (always NUL-terminated,
 * truncated with "..." when it does not fit).  Returns buf.
 */
char	*log_escape(char *, size_t, const void *, size_t);

#endif
