/*
 * ZFS snapshots of a VM's zvol, through the zfs(8) command (run as child
 * processes; the argv builders and output parsers are in zfs.c).  Rollback
 * is refused while the VM runs and when newer snapshots exist: `zfs
 * rollback -r` would destroy them.  A newer snapshot the host did not make
 * (EVE's own, catalog.h) is named first: only its owner may delete it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "log.h"
#include "status.h"
#include "xmalloc.h"
#include "zfs.h"

/* Run a zfs argv from a builder and free it. */
static void
zfsb_run(struct backend_op *op, char **argv, backend_proc_step step)
{
	backend_run(op, argv, step);
	zfs_argv_free(argv);
}

/* Turn a failed zfs command into a BACKEND_ERROR; returns 1 if it failed. */
static int
zfsb_failed(struct backend_op *op, const struct proc_result *r,
    const char *what)
{
	char	*why;

	if (r->exited && r->status == 0)
		return (0);
	why = proc_describe(r);
	backend_finish(op, EVG_BACKEND_ERROR, "zfs %s of '%s' (%s) failed: %s",
	    what, op->vol.name, op->vol.locator, why);
	free(why);
	return (1);
}

/* Parse a list into the result; returns the parsed array or NULL. */
static int
zfsb_parse(struct backend_op *op, const struct proc_result *r,
    struct zfs_snap **snaps, size_t *n)
{
	char	*cause;

	if (zfs_parse_list(r->out, op->vol.locator, snaps, n, &cause) != 0) {
		backend_finish(op, EVG_BACKEND_ERROR, "zfs list of '%s': %s",
		    op->vol.name, cause);
		free(cause);
		return (-1);
	}
	return (0);
}

/* Last step of snapshot/destroy/rollback. */
static void
zfsb_simple_done(struct backend_op *op, const struct proc_result *r)
{
	if (!zfsb_failed(op, r, backend_verb_name(op->req.verb)))
		backend_finish(op, EVG_OK, NULL);
}

/* After a create, the list tells the new snapshot's "used". */
static void
zfsb_created_list_done(struct backend_op *op, const struct proc_result *r)
{
	const struct zfs_snap	*s;
	struct zfs_snap		*snaps;
	size_t			 n;

	if (zfsb_failed(op, r, "list") || zfsb_parse(op, r, &snaps, &n) != 0)
		return;
	if ((s = zfs_snap_find(snaps, n, op->tag)) != NULL)
		op->res.size = s->used;
	zfs_snaps_free(snaps, n);
	backend_finish(op, EVG_OK, NULL);
}

/* zfs snapshot finished: read back its size. */
static void
zfsb_snapshot_done(struct backend_op *op, const struct proc_result *r)
{
	if (zfsb_failed(op, r, "snapshot"))
		return;
	zfsb_run(op, zfs_argv_list(op->env.cf->cmd.zfs, op->vol.locator),
	    zfsb_created_list_done);
}

/* LIST finished. */
static void
zfsb_list_done(struct backend_op *op, const struct proc_result *r)
{
	struct zfs_snap	*snaps;
	size_t		 n, i;

	if (zfsb_failed(op, r, "list") || zfsb_parse(op, r, &snaps, &n) != 0)
		return;
	for (i = 0; i < n; i++)
		backend_result_add(&op->res, snaps[i].snapname, snaps[i].uuid,
		    snaps[i].name, snaps[i].creation, snaps[i].used);
	zfs_snaps_free(snaps, n);
	backend_finish(op, EVG_OK, NULL);
}

/* Before a rollback: refuse when newer snapshots would be destroyed. */
static void
zfsb_rollback_list_done(struct backend_op *op, const struct proc_result *r)
{
	struct zfs_snap	*snaps;
	const char	*newest, *foreign;
	char		 name[64], more[32];
	size_t		 n, count;

	if (zfsb_failed(op, r, "list") || zfsb_parse(op, r, &snaps, &n) != 0)
		return;
	if (zfs_snap_find(snaps, n, op->tag) == NULL) {
		zfs_snaps_free(snaps, n);
		backend_finish(op, EVG_NOT_FOUND, "volume '%s' has no ZFS "
		    "snapshot %s@%s", op->vol.name, op->vol.locator, op->tag);
		return;
	}
	if ((foreign = zfs_newer_foreign(snaps, n, op->tag, &count)) != NULL) {
		more[0] = '\0';
		if (count > 1)
			snprintf(more, sizeof more, " and %zu more", count - 1);
		backend_finish(op, EVG_FAILED_PRECONDITION, "rolling volume "
		    "'%s' back to %s would destroy the newer snapshot %s@%s%s, "
		    "which this host did not make (EVE's own, or made by hand) "
		    "and never deletes; the rollback is refused", op->vol.name,
		    op->tag, op->vol.locator, log_escape(name, sizeof name,
		    foreign, strlen(foreign)), more);
		zfs_snaps_free(snaps, n);
		return;
	}
	if ((newest = zfs_newer_than(snaps, n, op->tag, &count)) != NULL) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "rolling volume "
		    "'%s' back to %s would destroy %zu newer snapshot%s "
		    "(newest: %s); delete them first", op->vol.name, op->tag,
		    count, count == 1 ? "" : "s", newest);
		zfs_snaps_free(snaps, n);
		return;
	}
	zfs_snaps_free(snaps, n);
	zfsb_run(op, zfs_argv_rollback(op->env.cf->cmd.zfs, op->vol.locator,
	    op->tag), zfsb_simple_done);
}

/* `zfs get referenced` finished: SPACE is complete. */
static void
zfsb_referenced_done(struct backend_op *op, const struct proc_result *r)
{
	char	*cause;

	if (zfsb_failed(op, r, "get referenced"))
		return;
	if (zfs_parse_u64(r->out, &op->res.need_bytes, &cause) != 0) {
		backend_finish(op, EVG_BACKEND_ERROR, "zfs get referenced of "
		    "'%s': %s", op->vol.name, cause);
		free(cause);
		return;
	}
	backend_finish(op, EVG_OK, NULL);
}

/* `zfs get available` finished: then what the zvol references. */
static void
zfsb_available_done(struct backend_op *op, const struct proc_result *r)
{
	char	*cause, *argv[8];

	if (zfsb_failed(op, r, "get available"))
		return;
	if (zfs_parse_u64(r->out, &op->res.free_bytes, &cause) != 0) {
		backend_finish(op, EVG_BACKEND_ERROR, "zfs get available of "
		    "'%s': %s", op->vol.name, cause);
		free(cause);
		return;
	}
	/* A snapshot pins what the zvol references now. */
	argv[0] = op->env.cf->cmd.zfs;
	argv[1] = (char *)"get";
	argv[2] = (char *)"-Hp";
	argv[3] = (char *)"-o";
	argv[4] = (char *)"value";
	argv[5] = (char *)"referenced";
	argv[6] = op->vol.locator;
	argv[7] = NULL;
	backend_run(op, argv, zfsb_referenced_done);
}

/* Start a ZFS op. */
int
backend_zfs_start(struct backend_op *op)
{
	const char	*zfs = op->env.cf->cmd.zfs;
	const char	*ds = op->vol.locator;

	switch (op->req.verb) {
	case BACKEND_CREATE:
		zfsb_run(op, zfs_argv_snapshot(zfs, ds, op->tag,
		    op->uuid != NULL ? op->uuid : op->tag,
		    op->name != NULL ? op->name : op->tag), zfsb_snapshot_done);
		break;
	case BACKEND_DELETE:
		zfsb_run(op, zfs_argv_destroy(zfs, ds, op->tag),
		    zfsb_simple_done);
		break;
	case BACKEND_ROLLBACK:
		if (op->req.running) {
			backend_finish(op, EVG_FAILED_PRECONDITION, "cannot "
			    "roll back ZFS volume '%s' while the VM runs: stop "
			    "the VM first", op->vol.name);
			break;
		}
		zfsb_run(op, zfs_argv_list(zfs, ds), zfsb_rollback_list_done);
		break;
	case BACKEND_LIST:
		zfsb_run(op, zfs_argv_list(zfs, ds), zfsb_list_done);
		break;
	case BACKEND_SPACE:
		op->res.where = xstrdup(ds);
		zfsb_run(op, zfs_argv_available(zfs, ds), zfsb_available_done);
		break;
	}
	return (0);
}
