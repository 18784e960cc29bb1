/*
 * qcow2 internal snapshots.  While the VM runs, QEMU holds the image and
 * only QMP may touch it (blockdev-snapshot-internal-sync and friends on the
 * volume's block node); while it is stopped, qemu-img does the work.  This
 * file never runs qemu-img on a running VM's image.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "jsonout.h"
#include "jsonread.h"
#include "status.h"
#include "xmalloc.h"

/* Allocated bytes of the image (what a snapshot pins); 0 if unknown. */
static uint64_t
qcow2_allocated(const char *path)
{
	struct stat	sb;

	if (stat(path, &sb) == -1)
		return (0);
	return ((uint64_t)sb.st_blocks * 512);
}

/* Append what an ImageInfo "snapshots" array holds to res. */
static void
qcow2_add_snapshots(struct backend_result *res, json_object *snaps)
{
	json_object	*s;
	const char	*name;
	uint64_t	 created;
	size_t		 i, n;

	if (snaps == NULL || !json_object_is_type(snaps, json_type_array))
		return;
	n = json_object_array_length(snaps);
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(snaps, i);
		if ((name = jsonread_str(s, "name")) == NULL || *name == '\0')
			continue;
		if (jsonread_u64(s, "date-sec", JSONOUT_TIME_MAX, &created) != 1)
			created = 0;
		backend_result_add(res, name, NULL, NULL, created, 0);
	}
}

/* Snapshots of a qemu-img info document; see backend_impl.h. */
int
qcow2_parse_info(const char *text, struct backend_result *res)
{
	json_object	*root;

	root = json_tokener_parse(text);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return (-1);
	}
	qcow2_add_snapshots(res, jsonread_typed(root, "snapshots",
	    json_type_array));
	json_object_put(root);
	return (0);
}

/* Snapshots of one block node; see backend_impl.h. */
int
qcow2_parse_nodes(json_object *ret, const char *node,
    struct backend_result *res)
{
	json_object	*image;
	const char	*name;
	size_t		 i, n;

	n = json_object_is_type(ret, json_type_array) ?
	    json_object_array_length(ret) : 0;
	for (i = 0; i < n; i++) {
		name = jsonread_str(json_object_array_get_idx(ret, i),
		    "node-name");
		if (name == NULL || strcmp(name, node) != 0)
			continue;
		image = jsonread_typed(json_object_array_get_idx(ret, i),
		    "image", json_type_object);
		qcow2_add_snapshots(res, jsonread_typed(image, "snapshots",
		    json_type_array));
		return (0);
	}
	return (-1);
}

/* The last step of every qemu-img command: success or its stderr. */
static void
qcow2_img_done(struct backend_op *op, const struct proc_result *r)
{
	char	*why;

	if (r->exited && r->status == 0) {
		backend_finish(op, EVG_OK, NULL);
		return;
	}
	why = proc_describe(r);
	backend_finish(op, EVG_BACKEND_ERROR, "qemu-img snapshot %s of '%s' "
	    "failed: %s", backend_verb_name(op->req.verb), op->vol.name, why);
	free(why);
}

/* qemu-img info --output=json finished: parse its snapshot list. */
static void
qcow2_info_done(struct backend_op *op, const struct proc_result *r)
{
	char	*why;

	if (!r->exited || r->status != 0) {
		why = proc_describe(r);
		backend_finish(op, EVG_BACKEND_ERROR, "qemu-img info of '%s' "
		    "failed: %s", op->vol.name, why);
		free(why);
		return;
	}
	if (qcow2_parse_info(r->out, &op->res) != 0) {
		backend_finish(op, EVG_BACKEND_ERROR, "qemu-img info of '%s': "
		    "output is not a JSON object", op->vol.name);
		return;
	}
	backend_finish(op, EVG_OK, NULL);
}

/* Offline: the VM is stopped, qemu-img may open the image. */
static void
qcow2_offline(struct backend_op *op)
{
	char	*argv[8];
	char	 flag[3] = "-?";

	switch (op->req.verb) {
	case BACKEND_LIST:
		argv[0] = op->env.cf->cmd.qemu_img;
		argv[1] = (char *)"info";
		argv[2] = (char *)"--output=json";
		argv[3] = op->vol.locator;
		argv[4] = NULL;
		backend_run(op, argv, qcow2_info_done);
		return;
	case BACKEND_CREATE:
		flag[1] = 'c';
		op->res.size = qcow2_allocated(op->vol.locator);
		break;
	case BACKEND_DELETE:
		flag[1] = 'd';
		break;
	case BACKEND_ROLLBACK:
		flag[1] = 'a';
		break;
	case BACKEND_SPACE:
		return;
	}
	argv[0] = op->env.cf->cmd.qemu_img;
	argv[1] = (char *)"snapshot";
	argv[2] = flag;
	argv[3] = op->tag;
	argv[4] = op->vol.locator;
	argv[5] = NULL;
	backend_run(op, argv, qcow2_img_done);
}

/* A QMP snapshot command finished. */
static void
qcow2_qmp_done(struct backend_op *op, int code, const char *msg,
    json_object *ret)
{
	(void)ret;
	if (code != EVG_OK) {
		backend_finish(op, code, "snapshot %s of '%s' in the running "
		    "VM failed: %s", backend_verb_name(op->req.verb),
		    op->vol.name, msg);
		return;
	}
	if (op->req.verb == BACKEND_CREATE)
		op->res.size = qcow2_allocated(op->vol.locator);
	backend_finish(op, EVG_OK, NULL);
}

/* query-named-block-nodes finished: find our node's snapshots. */
static void
qcow2_nodes_done(struct backend_op *op, int code, const char *msg,
    json_object *ret)
{
	if (code != EVG_OK) {
		backend_finish(op, code, "listing snapshots of '%s' in the "
		    "running VM failed: %s", op->vol.name, msg);
		return;
	}
	if (qcow2_parse_nodes(ret, op->vol.node, &op->res) == 0) {
		backend_finish(op, EVG_OK, NULL);
		return;
	}
	backend_finish(op, EVG_BACKEND_ERROR, "the running VM has no block node "
	    "'%s' for volume '%s'", op->vol.node, op->vol.name);
}

/* Online: QEMU holds the image; work through its monitor only. */
static void
qcow2_online(struct backend_op *op)
{
	json_object	*args;

	if (op->req.verb == BACKEND_ROLLBACK) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "cannot roll back "
		    "qcow2 volume '%s' while the VM runs: reverting the image "
		    "under a running QEMU would corrupt the guest's disk; stop "
		    "the VM first", op->vol.name);
		return;
	}
	if (op->qmp_path == NULL || op->vol.node == NULL) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "the VM runs, and "
		    "qcow2 volume '%s' has no %s: online snapshots go through "
		    "QEMU's monitor (qemu-img must not open an image QEMU "
		    "holds)", op->vol.name, op->qmp_path == NULL ?
		    "QMP socket registered for its VM" : "block node (node=)");
		return;
	}
	if (op->req.verb == BACKEND_LIST) {
		backend_qmp(op, "query-named-block-nodes", NULL,
		    qcow2_nodes_done);
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "device",
	    json_object_new_string(op->vol.node));
	json_object_object_add(args, "name", json_object_new_string(op->tag));
	backend_qmp(op, op->req.verb == BACKEND_CREATE ?
	    "blockdev-snapshot-internal-sync" :
	    "blockdev-snapshot-delete-internal-sync", args, qcow2_qmp_done);
}

/* Free space of the image's filesystem against its allocated size. */
static void
qcow2_space(struct backend_op *op)
{
	struct statvfs	 sv;
	char		*copy;
	int		 rc;

	copy = xstrdup(op->vol.locator);
	rc = statvfs(dirname(copy), &sv);
	free(copy);
	if (rc == -1) {
		backend_finish(op, EVG_BACKEND_ERROR, "cannot check free space "
		    "for '%s': statvfs of the directory of %s failed",
		    op->vol.name, op->vol.locator);
		return;
	}
	op->res.free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	op->res.need_bytes = qcow2_allocated(op->vol.locator);
	op->res.where = xstrdup(op->vol.locator);
	backend_finish(op, EVG_OK, NULL);
}

/* A qcow2 locator; see backend_impl.h. */
int
qcow2_locator_valid(const char *s)
{
	return (registry_path_valid(s, REGISTRY_PATH_MAX));
}

/* Start a qcow2 op. */
int
backend_qcow2_start(struct backend_op *op)
{
	struct stat	sb;

	if (stat(op->vol.locator, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		backend_finish(op, EVG_BACKEND_ERROR, "qcow2 image of volume "
		    "'%s' not found at %s", op->vol.name, op->vol.locator);
		return (0);
	}
	if (op->req.verb == BACKEND_SPACE)
		qcow2_space(op);
	else if (op->req.running)
		qcow2_online(op);
	else
		qcow2_offline(op);
	return (0);
}
