/*
 * Allocation helpers that never return NULL: running out of memory in a
 * daemon that holds guest filesystems frozen is not recoverable, so these
 * abort with a message instead.  Memory they return is freed with free().
 */
#ifndef EVG_XMALLOC_H
#define EVG_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

#endif
