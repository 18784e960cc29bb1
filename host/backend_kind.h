/*
 * The snapshot backends a volume may name (backend=qcow2|zfs): one table,
 * backend_kinds[] in backend_kind.c, with a row per backend.  Everything
 * that depends on the backend's name reads it: the registry's check of a
 * volume's backend, locator and node; the config keys and defaults of the
 * backends' commands; eve-guest-hostctl's --help; and backend_start()'s
 * dispatch.
 *
 * A new backend is its own file (backend_NAME.c, with a start function
 * and a locator check declared below) plus one row in backend_kinds[]; if
 * it runs a command, also a char * in struct backend_commands for the
 * row's command_offset.
 *
 * Layering: this module includes nothing of the host but zfs.h (a leaf),
 * so the low layers (config.c, registry.c, hostctl.c) use it without
 * seeing backend.h, and the backends' files include it to define what
 * it declares: no include circle.  The table is static data: nothing here
 * allocates or frees.
 */
#ifndef EVG_BACKEND_KIND_H
#define EVG_BACKEND_KIND_H

#include <stddef.h>

struct backend_op;

/* The commands the backends run (config keys), one per row that has one. */
struct backend_commands {
	char	*qemu_img;
	char	*zfs;
};

/* Each backend's entry points (backend_NAME.c). */
int	backend_qcow2_start(struct backend_op *);
int	backend_qcow2_prepares(const struct backend_op *);
int	qcow2_locator_valid(const char *);
int	backend_zfs_start(struct backend_op *);

struct backend_kind {
	const char	*name;		/* a volume's backend= */
	/* True if s is a locator this backend can use (image, dataset). */
	int		(*locator_valid)(const char *);
	const char	*locator_what;	/* "is not ..." when it is not */
	int		 node;		/* takes a QMP block node (node=) */
	const char	*command_key;	/* config key of its command */
	const char	*command_default;
	size_t		 command_offset; /* in struct backend_commands */
	/* Start an op (backend_impl.h); it ends in backend_finish(). */
	int		(*start)(struct backend_op *);
	/*
	 * True if this op prepares itself when started by backend_prepare()
	 * (its action through backend_qmp_action()); NULL or false: the op
	 * is started only at backend_go().
	 */
	int		(*prepares)(const struct backend_op *);
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
