/*
 * Shared machinery for backend implementations (backend_qcow2.c,
 * backend_zfs.c); not for callers of backend.h.  An implementation's start
 * function inspects op->req and chains steps: each step starts one child
 * process (backend_run) or one QMP command (backend_qmp) whose completion
 * calls the step function given, until one calls backend_finish().
 */
#ifndef EVG_BACKEND_IMPL_H
#define EVG_BACKEND_IMPL_H

#include <time.h>

#include <json-c/json.h>

#include "backend.h"
#include "backend_kind.h"
#include "proc.h"
#include "qmp.h"

struct backend_op;

typedef void	(*backend_proc_step)(struct backend_op *,
		    const struct proc_result *);
typedef void	(*backend_qmp_step)(struct backend_op *, int, const char *,
		    json_object *);

struct backend_op {
	struct backend_env	 env;
	struct backend_req	 req;		/* strings below are copies */
	struct reg_volume	 vol;
	char			*tag;
	char			*uuid;
	char			*name;
	char			*qmp_path;
	backend_cb		 cb;
	void			*arg;
	struct backend_result	 res;
	struct proc		*proc;
	struct qmp		*qmp;
	struct event		*ev_done;
	int			 finished;
	backend_proc_step	 proc_step;
	backend_qmp_step	 qmp_step;
	void			*impl;		/* freed with free() */
	/* backend_prepare(): ready, and whether the kind starts at go. */
	backend_ready_cb	 ready;
	int			 held;		/* waiting for backend_go() */
	int			 deferred;	/* kind started at go */
	struct event		*ev_ready;
	struct timespec		 t_go;		/* start, or backend_go() */
};

/* Run argv (copied) as a child with the backend timeout; then step. */
void	backend_run(struct backend_op *, char *const[], backend_proc_step);
/* Run one QMP command on the VM's monitor (args owned); then step. */
void	backend_qmp(struct backend_op *, const char *, json_object *,
	    backend_qmp_step);
/*
 * The same for the op's action itself: on a prepared op (backend_prepare)
 * not yet told to go, connect and negotiate now, tell the owner it is
 * ready, and send the command at backend_go().
 */
void	backend_qmp_action(struct backend_op *, const char *, json_object *,
	    backend_qmp_step);
/* Finish with a status code and message (printf-style); callback follows. */
void	backend_finish(struct backend_op *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Append a snapshot to a LIST result (strings copied; NULL allowed).  A
 * creation time past JSONOUT_TIME_MAX or a size past INT64_MAX is stored
 * as 0 (unknown).
 */
void	backend_result_add(struct backend_result *, const char *, const char *,
	    const char *, uint64_t, uint64_t);
/* Free what a result holds (snapshots, message) and zero it. */
void	backend_result_clear(struct backend_result *);

/*
 * Pure parsers of what QEMU tells (for backend_qcow2.c and the fuzzers).
 * Every member is type- and range-checked: entries of the wrong type or
 * without a string name are skipped, a bad date-sec is unknown (0).
 *
 * qcow2_parse_info: the "snapshots" of a `qemu-img info --output=json`
 * document are appended to res.  Returns 0, or -1 when the text is not a
 * JSON object.
 *
 * qcow2_find_node: the block node that holds a volume, in the return value
 * of query-block (drives, each with the node "inserted" in it) or of
 * query-named-block-nodes (every node).  With node (the volume's node=)
 * set, the node of that node-name, or inserted in the drive of that id;
 * without, the qcow2 format node whose "file" is locator, or real (its
 * realpath; NULL if none), and not the backing file of another image:
 * neither the protocol node under it nor a backing node.  Returns 1 with
 * *found (borrowed from ret; its "node-name" is a string) when exactly one
 * node matches, 0 when none does, -1 with *cause (the caller frees; names
 * them) when several do.
 *
 * qcow2_node_snapshots: the snapshots of a node found so (its
 * "image.snapshots") are appended to res.
 */
int	qcow2_parse_info(const char *, struct backend_result *);
int	qcow2_find_node(json_object *, const char *, const char *, const char *,
	    json_object **, char **);
void	qcow2_node_snapshots(json_object *, struct backend_result *);
/*
 * Fuzz targets only: when set, every op goes to this function instead of
 * its backend's start in backend_kinds[], whatever the volume's backend
 * (it must end in backend_finish(), as a backend does).
 */
extern int	(*backend_fake_start)(struct backend_op *);

#endif
