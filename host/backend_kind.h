/*
 * The snapshot backends a volume may name (backend=qcow2|zfs): one table,
 * backend_kinds[] in backend_kind.c, with a row per backend.  Everything
 * that depends on the backend's name reads it: the registry's check of a
 * volume's backend, locator and node; the config keys and defaults of the
 * backends' commands; eve-guest-hostctl's --help; and backend_start()'s
 * dispatch.
 *
 * A new backend is its own file (backend_NAME.c, with a start function
 * declared in backend_impl.h and a locator check) plus one row in
 * backend_kinds[]; if it runs a command, also a char * in struct config
 * for the row's command_offset.
 *
 * Layering: this header includes nothing of the host, so the low layers
 * (registry.c, config.c, hostctl.c) include it without seeing backend.h.
 * Only backend_kind.c, the table itself, includes backend_impl.h (for the
 * start functions) and config.h (for the offsets): the includes run one
 * way, registry.c -> backend_kind.h <- backend_kind.c -> backend_impl.h ->
 * backend.h -> registry.h, with no circle.  The table is static data:
 * nothing here allocates or frees.
 */
#ifndef EVG_BACKEND_KIND_H
#define EVG_BACKEND_KIND_H

#include <stddef.h>

struct backend_op;

struct backend_kind {
	const char	*name;		/* a volume's backend= */
	/* True if s is a locator this backend can use (image, dataset). */
	int		(*locator_valid)(const char *);
	const char	*locator_what;	/* "is not ..." when it is not */
	int		 node;		/* takes a QMP block node (node=) */
	const char	*command_key;	/* config key of its command */
	const char	*command_default;
	size_t		 command_offset; /* of its char * in struct config */
	/* Start an op (backend_impl.h); it ends in backend_finish(). */
	int		(*start)(struct backend_op *);
};

extern const struct backend_kind	backend_kinds[];
extern const size_t			backend_nkinds;

/* The backend named name (case-sensitive), or NULL. */
const struct backend_kind	*backend_kind_find(const char *);
/*
 * The names in table order (only those that take a node when node_only)
 * into buf, separated by sep and the last two by last: "qcow2 or zfs"
 * with ", " and " or ".  Returns buf, truncated to len - 1 bytes.
 */
char	*backend_kind_names(char *, size_t, const char *, const char *, int);

#endif
