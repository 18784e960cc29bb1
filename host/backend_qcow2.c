/*
 * qcow2 internal snapshots.  While the VM runs, QEMU holds the image and
 * only QMP may touch it (blockdev-snapshot-internal-sync and friends on the
 * volume's block node); while it is stopped, qemu-img does the work.  This
 * file never runs qemu-img on a running VM's image.
 *
 * The block node is the volume's node= (a drive id or a node name), which
 * QEMU resolves itself; without one, it is looked up by the image's file
 * name.  Each QMP step is its own connection: the monitor serves one client
 * at a time, and on EVE pillar uses it too.
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
#include "log.h"
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

/* Most node names a message about several matching nodes gives. */
#define QCOW2_NAMES_MAX	4

/* Snapshots of a block node; see backend_impl.h. */
void
qcow2_node_snapshots(json_object *node, struct backend_result *res)
{
	qcow2_add_snapshots(res, jsonread_typed(jsonread_typed(node, "image",
	    json_type_object), "snapshots", json_type_array));
}

/*
 * The block node an entry of query-block or query-named-block-nodes
 * stands for: the one inserted in a drive, or the entry itself.
 */
static json_object *
qcow2_entry_node(json_object *entry)
{
	json_object	*inserted;

	inserted = jsonread_typed(entry, "inserted", json_type_object);
	return (inserted != NULL ? inserted : entry);
}

/* True if name (may be NULL) names the volume's image file. */
static int
qcow2_same_file(const char *name, const char *locator, const char *real)
{
	if (name == NULL)
		return (0);
	return (strcmp(name, locator) == 0 ||
	    (real != NULL && strcmp(name, real) == 0));
}

/*
 * True if the volume's image is the backing file of an image in ret:
 * QEMU then holds a node of it for that image, not as a disk of its own.
 */
static int
qcow2_is_backing(json_object *ret, const char *locator, const char *real)
{
	json_object	*image;
	size_t		 i, n;

	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		image = jsonread_typed(qcow2_entry_node(
		    json_object_array_get_idx(ret, i)), "image",
		    json_type_object);
		while ((image = jsonread_typed(image, "backing-image",
		    json_type_object)) != NULL)
			if (qcow2_same_file(jsonread_str(image, "filename"),
			    locator, real))
				return (1);
	}
	return (0);
}

/* True if an entry is the node qcow2_find_node() looks for. */
static int
qcow2_node_matches(json_object *entry, const char *node, const char *locator,
    const char *real)
{
	json_object	*n = qcow2_entry_node(entry);
	const char	*name, *device, *drv;

	if ((name = jsonread_str(n, "node-name")) == NULL)
		return (0);
	if (node != NULL) {
		device = jsonread_str(entry, "device");
		return (strcmp(name, node) == 0 ||
		    (device != NULL && strcmp(device, node) == 0));
	}
	drv = jsonread_str(n, "drv");
	return (drv != NULL && strcmp(drv, "qcow2") == 0 &&
	    qcow2_same_file(jsonread_str(n, "file"), locator, real));
}

/* "N nodes match: 'name' (drive 'id'), ..." for several matches. */
static char *
qcow2_several(json_object *ret, const char *node, const char *locator,
    const char *real, size_t count)
{
	json_object	*entry;
	const char	*device, *nodename;
	char		*s, *t, name[72], drive[72];
	size_t		 i, n, listed = 0;

	xasprintf(&s, "%zu nodes match:", count);
	n = json_object_array_length(ret);
	for (i = 0; i < n && listed < QCOW2_NAMES_MAX; i++) {
		entry = json_object_array_get_idx(ret, i);
		if (!qcow2_node_matches(entry, node, locator, real))
			continue;
		nodename = jsonread_str(qcow2_entry_node(entry), "node-name");
		log_escape(name, sizeof name, nodename, strlen(nodename));
		device = jsonread_str(entry, "device");
		if (device != NULL)
			log_escape(drive, sizeof drive, device, strlen(device));
		xasprintf(&t, "%s%s '%s'%s%s%s", s, listed > 0 ? "," : "", name,
		    device != NULL ? " (drive '" : "",
		    device != NULL ? drive : "", device != NULL ? "')" : "");
		free(s);
		s = t;
		listed++;
	}
	if (count > listed) {
		xasprintf(&t, "%s and %zu more", s, count - listed);
		free(s);
		s = t;
	}
	return (s);
}

/* The volume's block node in a query answer; see backend_impl.h. */
int
qcow2_find_node(json_object *ret, const char *node, const char *locator,
    const char *real, json_object **found, char **cause)
{
	json_object	*entry;
	size_t		 i, n, count = 0;

	*found = NULL;
	if (!json_object_is_type(ret, json_type_array))
		return (0);
	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		entry = json_object_array_get_idx(ret, i);
		if (qcow2_node_matches(entry, node, locator, real) &&
		    count++ == 0)
			*found = qcow2_entry_node(entry);
	}
	if (count > 0 && node == NULL && qcow2_is_backing(ret, locator, real))
		count = 0;
	if (count == 1)
		return (1);
	*found = NULL;
	if (count == 0)
		return (0);
	*cause = qcow2_several(ret, node, locator, real, count);
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

/*
 * Snapshot or delete on the block node named device (a drive id or a
 * node name: QEMU takes either for a root node).
 */
static void
qcow2_command(struct backend_op *op, const char *device)
{
	json_object	*args;

	args = json_object_new_object();
	json_object_object_add(args, "device", json_object_new_string(device));
	json_object_object_add(args, "name", json_object_new_string(op->tag));
	backend_qmp_action(op, op->req.verb == BACKEND_CREATE ?
	    "blockdev-snapshot-internal-sync" :
	    "blockdev-snapshot-delete-internal-sync", args, qcow2_qmp_done);
}

static void	qcow2_block_done(struct backend_op *, int, const char *,
		    json_object *);
static void	qcow2_nodes_done(struct backend_op *, int, const char *,
		    json_object *);

/*
 * A query answered: find the volume's node in it, then list its snapshots
 * or run the command on it.  What query-block (the drives) does not have,
 * query-named-block-nodes (every node, also those no drive holds, as
 * -blockdev makes them) may: that is asked next, the last query.
 */
static void
qcow2_lookup(struct backend_op *op, int code, const char *msg,
    json_object *ret, int last)
{
	json_object	*node;
	char		*real, *cause;
	int		 rc;

	if (code != EVG_OK) {
		backend_finish(op, code, "snapshot %s of '%s' in the running "
		    "VM failed: finding its block node: %s",
		    backend_verb_name(op->req.verb), op->vol.name, msg);
		return;
	}
	real = realpath(op->vol.locator, NULL);
	rc = qcow2_find_node(ret, op->vol.node, op->vol.locator, real, &node,
	    &cause);
	free(real);
	if (rc == 0 && !last) {
		backend_qmp(op, "query-named-block-nodes", NULL,
		    qcow2_nodes_done);
		return;
	}
	if (rc == -1) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "cannot tell which "
		    "block node of the running VM holds volume '%s' (%s%s): "
		    "%s; set node= to its drive id or node name",
		    op->vol.name, op->vol.node != NULL ? "node=" : "",
		    op->vol.node != NULL ? op->vol.node : op->vol.locator,
		    cause);
		free(cause);
		return;
	}
	if (rc == 0 && op->vol.node != NULL) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "the running VM has "
		    "no drive or block node '%s' (node= of volume '%s')",
		    op->vol.node, op->vol.name);
		return;
	}
	if (rc == 0) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "the running VM has "
		    "no qcow2 block node for %s (volume '%s'); set node= to its "
		    "drive id or node name", op->vol.locator, op->vol.name);
		return;
	}
	if (op->req.verb == BACKEND_LIST) {
		qcow2_node_snapshots(node, &op->res);
		backend_finish(op, EVG_OK, NULL);
		return;
	}
	qcow2_command(op, jsonread_str(node, "node-name"));
}

/* query-block answered. */
static void
qcow2_block_done(struct backend_op *op, int code, const char *msg,
    json_object *ret)
{
	qcow2_lookup(op, code, msg, ret, 0);
}

/* query-named-block-nodes answered. */
static void
qcow2_nodes_done(struct backend_op *op, int code, const char *msg,
    json_object *ret)
{
	qcow2_lookup(op, code, msg, ret, 1);
}

/*
 * Online: QEMU holds the image; work through its monitor only.  With
 * node=, a create or delete names it to QEMU directly; a list, or any op
 * without node=, looks the node up first.
 */
static void
qcow2_online(struct backend_op *op)
{
	if (op->req.verb == BACKEND_ROLLBACK) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "cannot roll back "
		    "qcow2 volume '%s' while the VM runs: reverting the image "
		    "under a running QEMU would corrupt the guest's disk; stop "
		    "the VM first", op->vol.name);
		return;
	}
	if (op->qmp_path == NULL) {
		backend_finish(op, EVG_FAILED_PRECONDITION, "the VM runs, and "
		    "qcow2 volume '%s' has no QMP socket registered for its VM: "
		    "online snapshots go through QEMU's monitor (qemu-img must "
		    "not open an image QEMU holds)", op->vol.name);
		return;
	}
	if (op->vol.node != NULL && op->req.verb != BACKEND_LIST)
		qcow2_command(op, op->vol.node);
	else
		backend_qmp(op, "query-block", NULL, qcow2_block_done);
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

/*
 * A create in a running VM prepares itself (backend_prepare()): the node
 * lookup and the monitor's handshake happen ahead, the snapshot command
 * at go.  Offline, qemu-img has nothing to do ahead.
 */
int
backend_qcow2_prepares(const struct backend_op *op)
{
	return (op->req.verb == BACKEND_CREATE && op->req.running);
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
