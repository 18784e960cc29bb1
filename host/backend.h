/*
 * Snapshot backends behind one asynchronous interface: qcow2 (internal
 * snapshots: QMP while the VM runs, qemu-img while it is stopped) and ZFS
 * (zfs commands on the zvol), each a row of backend_kinds[]
 * (backend_kind.h) that backend_start() dispatches on by the volume's
 * backend name.  Nothing here blocks the event loop: backend work runs as
 * child processes (proc.h) or QMP exchanges (qmp.h).
 *
 * backend_start() copies what it needs from the request and returns an op;
 * the callback runs exactly once, from the event loop (never from inside
 * backend_start()), with a result that is freed when it returns.
 * backend_cancel() stops an op; its callback then never runs.
 */
#ifndef EVG_BACKEND_H
#define EVG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "registry.h"

enum backend_verb {
	BACKEND_CREATE,		/* snapshot named tag */
	BACKEND_DELETE,		/* delete snapshot tag */
	BACKEND_ROLLBACK,	/* revert the volume to snapshot tag */
	BACKEND_LIST,		/* every snapshot of the volume */
	BACKEND_SPACE,		/* free space and what a snapshot may need */
};

struct backend_snap {
	char		*tag;		/* the backend's name */
	char		*uuid;		/* recorded UUID, NULL if none */
	char		*name;		/* recorded human name, NULL if none */
	uint64_t	 created;	/* seconds since the epoch */
	uint64_t	 size;		/* bytes, 0 if unknown */
};

struct backend_result {
	int			 code;		/* status code */
	char			*message;	/* why, when code != EVG_OK */
	struct backend_snap	*snaps;		/* BACKEND_LIST */
	size_t			 nsnaps;
	uint64_t		 size;		/* BACKEND_CREATE: to record */
	uint64_t		 free_bytes;	/* BACKEND_SPACE */
	uint64_t		 need_bytes;	/* BACKEND_SPACE */
	char			*where;		/* BACKEND_SPACE: what is full */
	/* The op's own time: from its start, or backend_go(), to the end. */
	uint64_t		 call_us;
};

struct backend_req {
	enum backend_verb	 verb;
	int			 running;	/* the VM runs (QEMU holds it) */
	const char		*qmp;		/* VM's QMP socket, may be NULL */
	const struct reg_volume	*vol;
	const char		*tag;		/* CREATE, DELETE, ROLLBACK */
	const char		*uuid;		/* CREATE: recorded with it */
	const char		*name;		/* CREATE: recorded with it */
};

struct backend_env {
	struct event_base	*base;
	const struct config	*cf;
};

struct backend_op;

typedef void	(*backend_cb)(const struct backend_result *, void *);
typedef void	(*backend_ready_cb)(void *);

struct backend_op	*backend_start(const struct backend_env *,
			    const struct backend_req *, backend_cb, void *);
/*
 * Start an op that does everything it can ahead and then waits: ready
 * runs once (from the loop) when only the action itself is left, which
 * backend_go() then starts.  A qcow2 create in a running VM looks its
 * block node up, connects to the monitor and negotiates ahead, so that
 * the snapshot is one command on an open connection; the other backends
 * have nothing to prepare (ready comes at once, the op starts at go).  cb
 * runs once as for backend_start(), and may run before ready (the op
 * failed while preparing; ready then never runs).
 */
struct backend_op	*backend_prepare(const struct backend_env *,
			    const struct backend_req *, backend_ready_cb,
			    backend_cb, void *);
void			 backend_go(struct backend_op *);
void			 backend_cancel(struct backend_op *);
const char		*backend_verb_name(enum backend_verb);

#endif
