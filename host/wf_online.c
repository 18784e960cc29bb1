/*
 * Online rollback of one qcow2 data disk of a running VM: the disk is
 * taken away from the guest through QEMU's own hot-plug for the few
 * seconds of the revert, and given back with the same identity.
 *
 *   QUERY   query-block: the drive holding the image, and its device
 *   PROPS   qom-get type, parent_bus, addr, serial of the device
 *           -> journal "detaching" (the catalog's online record)
 *   UNPLUG  device_del, then DEVICE_DELETED within unplug_ms
 *           -> journal "detached"                 event disk-detached
 *   DRIVE   query-block: the drive gone with its device (a -drive is),
 *           else drive_del
 *   REVERT  qemu-img snapshot -a (QEMU no longer holds the image)
 *           -> journal "reverted"
 *   ADDDRV  drive_add: the same id, file, format, cache options
 *   ADDDEV  device_add: the same driver, id, bus, addr, drive, serial
 *   VERIFY  query-block: the image is attached to the device again
 *           -> journal cleared                    event disk-reattached,
 *                                                 rollback-done
 *
 * Before UNPLUG has an answer nothing has changed, and a failure is only
 * reported.  After it, any failure still re-attaches the original drive
 * and device (reverted or not: the message says which): the disk is
 * never left detached.  The journal record (catalog.h, "online") lets a
 * host daemon that died midway finish at its next start (wf_online_
 * recover): a device that is still there was never unplugged (the record
 * is dropped), one that is gone is reverted (again: reverting twice is
 * the same) and re-attached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "events.h"
#include "jsonread.h"
#include "log.h"
#include "proc.h"
#include "qmp.h"
#include "status.h"
#include "uuid.h"
#include "workflow_impl.h"
#include "xmalloc.h"

#define OL_QMP_MS	10000		/* each QMP command */

static void	ol_props_next(struct workflow *);
static void	ol_readd(struct workflow *);

/* What is read of the device and given back to device_add. */
static const char *const ol_props[] = { "type", "parent_bus", "addr",
    "serial", "bootindex", "num-queues", "write-cache", "iothread" };

/* Run a QMP command for the workflow; 0, or -1 after finishing it. */
static int
ol_qmp(struct workflow *wf, const char *command, json_object *args,
    const char *event, qmp_done_cb cb)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	const char	*path = vm != NULL ? reg_vm_monitor(vm) : NULL;
	char		*cause;

	if (path == NULL) {
		json_object_put(args);
		xasprintf(&cause, "the VM has no QMP socket registered");
		errno = 0;
		cb(EVG_FAILED_PRECONDITION, cause, NULL, wf);
		free(cause);
		return (-1);
	}
	wf->rb.ol.q = event != NULL ? qmp_execute_event(wf_g.base, path,
	    command, args, wf_g.cf->unplug_ms, event, wf->rb.ol.device, cb,
	    wf, &cause) : qmp_execute(wf_g.base, path, command, args,
	    OL_QMP_MS, cb, wf, &cause);
	if (wf->rb.ol.q == NULL) {
		cb(EVG_FAILED_PRECONDITION, cause, NULL, wf);
		free(cause);
		return (-1);
	}
	return (0);
}

/* {"path": path, "property": prop} */
static json_object *
ol_qom_args(const char *path, const char *prop)
{
	json_object	*a = json_object_new_object();

	json_object_object_add(a, "path", json_object_new_string(path));
	json_object_object_add(a, "property", json_object_new_string(prop));
	return (a);
}

/* An HMP command line as QMP arguments. */
static json_object *
ol_hmp_args(const char *line)
{
	json_object	*a = json_object_new_object();

	json_object_object_add(a, "command-line",
	    json_object_new_string(line));
	return (a);
}

/* s with every ',' doubled, for a QEMU option value (caller frees). */
static char *
ol_optval(const char *s)
{
	char	*out = xcalloc(1, strlen(s) * 2 + 1), *p = out;

	for (; *s != '\0'; s++) {
		*p++ = *s;
		if (*s == ',')
			*p++ = ',';
	}
	return (out);
}

/* The online record as it is now, into the catalog (not committed). */
static void
ol_record(struct workflow *wf, const char *phase)
{
	struct wf_online	*ol = &wf->rb.ol;
	json_object		*o = json_object_new_object();

	json_object_object_add(o, "snapshot", json_object_new_string(ol->snap));
	json_object_object_add(o, "volume", json_object_new_string(ol->vol));
	json_object_object_add(o, "phase", json_object_new_string(phase));
	json_object_object_add(o, "device",
	    json_object_new_string(ol->device));
	json_object_object_add(o, "drive", json_object_new_string(ol->drive));
	json_object_object_add(o, "drive_add",
	    json_object_new_string(ol->drive_opts));
	json_object_object_add(o, "device_add", json_object_get(ol->dev_args));
	free(wf->wv->cat->online);
	wf->wv->cat->online = xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* Write the record with phase (NULL: none); 0 or -1 (logged). */
static int
ol_journal(struct workflow *wf, const char *phase)
{
	char	*why;

	if (phase != NULL)
		ol_record(wf, phase);
	else {
		free(wf->wv->cat->online);
		wf->wv->cat->online = NULL;
	}
	if (catalog_commit(wf->wv->cat, &why) != 0) {
		log_warnx("vm %s: online rollback: %s", wf->wv->uuid, why);
		free(why);
		/* Not written before the unplug: nothing to remember. */
		if (phase != NULL && strcmp(phase, "detaching") == 0) {
			free(wf->wv->cat->online);
			wf->wv->cat->online = NULL;
		}
		return (-1);
	}
	return (0);
}

/* Finish, with the timings in the message of a success. */
static void
ol_end(struct workflow *wf, int code, const char *msg)
{
	struct wf_online	*ol = &wf->rb.ol;

	if (code == EVG_OK) {
		wf_event(wf, "rollback-done", 0, "volume %s rolled back online "
		    "in %u ms (detached for %u ms)", ol->vol,
		    proc_elapsed_ms(&ol->t_start),
		    proc_elapsed_ms(&ol->t_detached));
		if (wf->cur != NULL)
			wf_out_add(wf, wf->cur, NULL);
		wf_finish(wf, EVG_OK, NULL);
		return;
	}
	wf_event(wf, "rollback-failed", code, "%s", msg);
	wf_finish(wf, code, "%s", msg);
}

/*
 * A failure after the unplug: note it (the first one only) and put the
 * disk back; the outcome is reported once it is.
 */
static void
ol_fail_attached(struct workflow *wf, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
ol_fail_attached(struct workflow *wf, int code, const char *fmt, ...)
{
	struct wf_online	*ol = &wf->rb.ol;
	va_list			 ap;

	if (ol->fail_msg == NULL) {
		va_start(ap, fmt);
		xvasprintf(&ol->fail_msg, fmt, ap);
		va_end(ap);
		ol->fail_code = code;
	}
	ol_readd(wf);
}

/* Is qdev ("/machine/peripheral/ID/virtio-backend") the device's, ID exact? */
static int
ol_on_device(const struct wf_online *ol, const char *qdev)
{
	size_t	len = strlen("/machine/peripheral/");

	return (qdev != NULL &&
	    strncmp(qdev, "/machine/peripheral/", len) == 0 &&
	    strncmp(qdev + len, ol->device, strlen(ol->device)) == 0 &&
	    qdev[len + strlen(ol->device)] == '/');
}

/* READD failed (what, of id, for why): the record stays for a retry. */
static void
ol_readd_failed(struct workflow *wf, const char *what, const char *id,
    const char *why)
{
	char	*m;

	xasprintf(&m, "%s%sre-attaching the disk failed: %s %s: %.200s; the "
	    "host tries again every reconcile_retry and at its next start",
	    wf->rb.ol.fail_msg != NULL ? wf->rb.ol.fail_msg : "",
	    wf->rb.ol.fail_msg != NULL ? "; " : "", what, id, why);
	ol_end(wf, EVG_BACKEND_ERROR, m);
	free(m);
}

/* VERIFY: the image is on its device again. */
static void
ol_verify_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow		*wf = arg;
	struct wf_online	*ol = &wf->rb.ol;
	json_object		*e, *ins;
	const char		*qdev, *file;
	char			*m;
	size_t			 i, n;
	int			 found = 0;

	ol->q = NULL;
	n = status == EVG_OK && json_object_is_type(ret, json_type_array) ?
	    json_object_array_length(ret) : 0;
	for (i = 0; i < n && !found; i++) {
		e = json_object_array_get_idx(ret, i);
		qdev = jsonread_str(e, "qdev");
		if (!json_object_object_get_ex(e, "inserted", &ins) ||
		    (file = jsonread_str(ins, "file")) == NULL || qdev == NULL)
			continue;
		found = strcmp(file, ol->file) == 0 && ol_on_device(ol, qdev);
	}
	if (!found) {
		xasprintf(&m, "%s%sthe disk was re-attached (%s), but QEMU does "
		    "not show %s on device %s afterwards%s%s; the host checks "
		    "again every reconcile_retry", ol->fail_msg != NULL ?
		    ol->fail_msg : "", ol->fail_msg != NULL ? "; " : "",
		    ol->reverted ? "rolled back" : "not rolled back", ol->file,
		    ol->device, status == EVG_OK ? "" : ": ",
		    status == EVG_OK ? "" : msg);
		ol_end(wf, EVG_BACKEND_ERROR, m);
		free(m);
		return;
	}
	wf_event(wf, "disk-reattached", 0, "device %s is back (drive %s, bus "
	    "%s), %s, after %u ms detached", ol->device, ol->drive, ol->bus,
	    ol->reverted ? "rolled back" : "NOT rolled back",
	    proc_elapsed_ms(&ol->t_detached));
	ol_journal(wf, NULL);
	if (ol->fail_msg != NULL) {
		xasprintf(&m, "%s; the disk is attached again, %s", ol->fail_msg,
		    ol->reverted ? "rolled back" : "not rolled back");
		ol_end(wf, ol->fail_code, m);
		free(m);
		return;
	}
	ol_end(wf, EVG_OK, NULL);
}

/* ADDDEV done. */
static void
ol_adddev_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow	*wf = arg;

	(void)ret;
	wf->rb.ol.q = NULL;
	if (status != EVG_OK) {
		ol_readd_failed(wf, "device_add", wf->rb.ol.device, msg);
		return;
	}
	ol_qmp(wf, "query-block", NULL, NULL, ol_verify_done);
}

/*
 * ADDDRV done: HMP says nothing, or "OK", when the drive is there; a
 * drive with the id already there (a drive_del that failed) is used.
 */
static void
ol_adddrv_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow	*wf = arg;
	const char	*out = json_object_is_type(ret, json_type_string) ?
			    json_object_get_string(ret) : "";

	wf->rb.ol.q = NULL;
	if (status != EVG_OK || (*out != '\0' && strncmp(out, "OK", 2) != 0 &&
	    strstr(out, "Duplicate ID") == NULL)) {
		ol_readd_failed(wf, "drive_add", wf->rb.ol.drive,
		    status != EVG_OK ? msg : out);
		return;
	}
	ol_qmp(wf, "device_add", json_object_get(wf->rb.ol.dev_args), NULL,
	    ol_adddev_done);
}

/* ADDDRV: the drive as it was. */
static void
ol_readd(struct workflow *wf)
{
	char	*line;

	wf->rb.state = ROLLBACK_ONLINE_READD;
	xasprintf(&line, "drive_add 0 %s", wf->rb.ol.drive_opts);
	ol_qmp(wf, "human-monitor-command", ol_hmp_args(line), NULL,
	    ol_adddrv_done);
	free(line);
}

/* REVERT done. */
static void
ol_revert_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	wf->rb.ol.detached = 0;
	if (r->code != EVG_OK) {
		ol_fail_attached(wf, r->code, "reverting volume %s failed: %s",
		    wf->rb.ol.vol, r->message);
		return;
	}
	wf->rb.ol.reverted = 1;
	ol_journal(wf, "reverted");
	ol_readd(wf);
}

/* REVERT: qemu-img on the image QEMU let go of. */
static void
ol_revert(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->rb.ol.no_revert) {
		/* Given back as it was (an unplug the caller was told failed). */
		ol_readd(wf);
		return;
	}
	if (wf->cur == NULL) {
		ol_fail_attached(wf, EVG_NOT_FOUND, "snapshot %s is gone: volume "
		    "%s is not rolled back", wf->rb.ol.snap, wf->rb.ol.vol);
		return;
	}
	wf->rb.state = ROLLBACK_ONLINE_REVERT;
	/* wf_backend_req() makes it an offline op: QEMU holds nothing. */
	wf->rb.ol.detached = 1;
	wf_backend(wf, BACKEND_ROLLBACK, wf_volume(vm, wf->cur->volume),
	    wf->cur->tag, ol_revert_done);
}

/* DRIVE done: revert, or (reverted already) re-add. */
static void
ol_after_drive(struct workflow *wf)
{
	if (wf->rb.ol.reverted)
		ol_readd(wf);
	else
		ol_revert(wf);
}

/* DRIVE: drive_del answered (HMP says nothing when it worked). */
static void
ol_drivedel_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow	*wf = arg;
	const char	*out = json_object_is_type(ret, json_type_string) ?
			    json_object_get_string(ret) : "";

	wf->rb.ol.q = NULL;
	if (status != EVG_OK || *out != '\0') {
		ol_fail_attached(wf, EVG_BACKEND_ERROR, "drive_del %s: %.200s",
		    wf->rb.ol.drive, status != EVG_OK ? msg : out);
		return;
	}
	ol_after_drive(wf);
}

/*
 * DRIVE: is the drive still there without its device (drive_del it)?  Or
 * is the image on the device again (a record met after its re-add: the
 * operation is over, whatever the record says)?
 */
static void
ol_drive_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow		*wf = arg;
	struct wf_online	*ol = &wf->rb.ol;
	json_object		*e;
	const char		*dev, *qdev;
	char			*line, *m;
	size_t			 i, n;

	ol->q = NULL;
	if (status != EVG_OK) {
		ol_fail_attached(wf, status, "query-block: %s", msg);
		return;
	}
	n = json_object_is_type(ret, json_type_array) ?
	    json_object_array_length(ret) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(ret, i);
		if ((dev = jsonread_str(e, "device")) == NULL ||
		    strcmp(dev, ol->drive) != 0)
			continue;
		qdev = jsonread_str(e, "qdev");
		if (ol_on_device(ol, qdev)) {
			ol_journal(wf, NULL);
			xasprintf(&m, "disk %s is attached (drive %s on its "
			    "device): the online rollback is over; whether it "
			    "was rolled back is %s", ol->device, ol->drive,
			    ol->reverted ? "yes" : "not known (check its data)");
			ol_end(wf, EVG_UNAVAILABLE, m);
			free(m);
			return;
		}
		if (qdev != NULL && *qdev != '\0') {
			/* On another device: not ours to remove. */
			ol_fail_attached(wf, EVG_FAILED_PRECONDITION, "drive %s "
			    "is on device %s, not %s", ol->drive, qdev,
			    ol->device);
			return;
		}
		xasprintf(&line, "drive_del %s", ol->drive);
		ol_qmp(wf, "human-monitor-command", ol_hmp_args(line), NULL,
		    ol_drivedel_done);
		free(line);
		return;
	}
	ol_after_drive(wf);
}

/* UNPLUG: DEVICE_DELETED came, or not. */
static void
ol_unplug_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow		*wf = arg;
	struct wf_online	*ol = &wf->rb.ol;
	char			*m;
	int			 refused;

	(void)ret;
	ol->q = NULL;
	/*
	 * QEMU's own error reply to device_del ("device_del: DESC", as
	 * qmp.c words one): it unplugs nothing.  Anything else (no event in
	 * time, the monitor gone) may leave an unplug pending in QEMU.
	 */
	refused = status == EVG_BACKEND_ERROR &&
	    strncmp(msg, "device_del: ", 12) == 0;
	if (refused && wf->rb.ask != 2) {
		/* Not --online: what cannot be unplugged is scheduled. */
		ol_journal(wf, NULL);
		xasprintf(&m, "QEMU did not unplug disk %s: %s", ol->device,
		    msg);
		wf_rollback_not_online(wf, m);
		free(m);
		return;
	}
	if (refused) {
		ol_journal(wf, NULL);
		xasprintf(&m, "QEMU did not unplug disk %s: %s; nothing was "
		    "rolled back and the disk stays attached (roll back with the "
		    "VM stopped instead)", ol->device, msg);
		ol_end(wf, EVG_FAILED_PRECONDITION, m);
		free(m);
		return;
	}
	if (status != EVG_OK) {
		/*
		 * The record stays ("unplug-pending"): should QEMU still
		 * unplug the disk, the retry puts it back as it was, not
		 * rolled back, as this answer says.
		 */
		ol_journal(wf, "unplug-pending");
		if (status == EVG_TIMEOUT)
			xasprintf(&m, "the guest did not release disk %s within "
			    "%u ms (%s): nothing was rolled back and the disk "
			    "stays attached; should QEMU still unplug it later, "
			    "the host plugs it back as it is, not rolled back",
			    ol->device, wf_g.cf->unplug_ms, msg);
		else
			xasprintf(&m, "unplugging disk %s: %s: nothing was "
			    "rolled back; should QEMU still unplug it, the host "
			    "plugs it back as it is, not rolled back",
			    ol->device, msg);
		ol_end(wf, status, m);
		free(m);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ol->t_detached);
	ol_journal(wf, "detached");
	wf_event(wf, "disk-detached", 0, "device %s unplugged after %u ms",
	    ol->device, proc_elapsed_ms(&ol->t_start));
	wf->rb.state = ROLLBACK_ONLINE_DRIVE;
	ol_qmp(wf, "query-block", NULL, NULL, ol_drive_done);
}

/* PROPS done: every property read; write the record, unplug. */
static void
ol_unplug(struct workflow *wf)
{
	struct wf_online	*ol = &wf->rb.ol;
	json_object		*a;
	const char		*bus;
	char			*file, addr[16];

	/* "/machine/peripheral/pci.2/pci.2" or "/machine/q35/pcie.0". */
	bus = strrchr(ol->bus, '/') != NULL ? strrchr(ol->bus, '/') + 1 :
	    ol->bus;
	a = json_object_new_object();
	json_object_object_add(a, "driver", json_object_new_string(ol->driver));
	json_object_object_add(a, "id", json_object_new_string(ol->device));
	json_object_object_add(a, "bus", json_object_new_string(bus));
	snprintf(addr, sizeof addr, "%x.%x", (unsigned)ol->addr >> 3,
	    (unsigned)ol->addr & 7);
	json_object_object_add(a, "addr", json_object_new_string(addr));
	json_object_object_add(a, "drive", json_object_new_string(ol->drive));
	if (ol->serial != NULL && *ol->serial != '\0')
		json_object_object_add(a, "serial",
		    json_object_new_string(ol->serial));
	if (ol->bootindex >= 0)
		json_object_object_add(a, "bootindex",
		    json_object_new_int(ol->bootindex));
	if (ol->num_queues > 0)
		json_object_object_add(a, "num-queues",
		    json_object_new_int(ol->num_queues));
	if (ol->write_cache != NULL)
		json_object_object_add(a, "write-cache",
		    json_object_new_string(ol->write_cache));
	if (ol->iothread != NULL && *ol->iothread != '\0')
		json_object_object_add(a, "iothread", json_object_new_string(
		    strrchr(ol->iothread, '/') != NULL ?
		    strrchr(ol->iothread, '/') + 1 : ol->iothread));
	ol->dev_args = a;
	file = ol_optval(ol->file);
	xasprintf(&ol->drive_opts, "if=none,id=%s,file=%s,format=%s,cache=%s"
	    "%s%s%s", ol->drive, file, ol->format, ol->cache,
	    ol->readonly ? ",readonly=on" : "",
	    ol->detect_zeroes != NULL ? ",detect-zeroes=" : "",
	    ol->detect_zeroes != NULL ? ol->detect_zeroes : "");
	free(file);
	if (ol_journal(wf, "detaching") != 0) {
		ol_end(wf, EVG_INTERNAL, "cannot write the snapshot catalog: "
		    "the online rollback needs its record before the unplug");
		return;
	}
	wf_event(wf, "rollback-online-started", 0, "unplugging device %s "
	    "(drive %s, bus %s, addr %s) to roll volume %s back to '%s'",
	    ol->device, ol->drive, bus, addr, ol->vol, wf->cur->name);
	wf->rb.state = ROLLBACK_ONLINE_UNPLUG;
	a = json_object_new_object();
	json_object_object_add(a, "id", json_object_new_string(ol->device));
	ol_qmp(wf, "device_del", a, "DEVICE_DELETED", ol_unplug_done);
}

/* PROPS: one property answered. */
static void
ol_prop_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow		*wf = arg;
	struct wf_online	*ol = &wf->rb.ol;
	const char		*name = ol_props[ol->nprops];
	char			*m;

	ol->q = NULL;
	if (status != EVG_OK && ol->nprops >= 4) {
		/* An optional property this QEMU's device lacks. */
		ol->nprops++;
		ol_props_next(wf);
		return;
	}
	if (status != EVG_OK) {
		xasprintf(&m, "reading device %s's %s: %s", ol->device, name,
		    msg);
		ol_end(wf, status == EVG_BACKEND_ERROR ?
		    EVG_FAILED_PRECONDITION : status, m);
		free(m);
		return;
	}
	if (strcmp(name, "addr") == 0 || strcmp(name, "bootindex") == 0 ||
	    strcmp(name, "num-queues") == 0) {
		if (!json_object_is_type(ret, json_type_int)) {
			xasprintf(&m, "device %s's %s is not a number: it cannot "
			    "be re-added the same, so it is not unplugged",
			    ol->device, name);
			ol_end(wf, EVG_FAILED_PRECONDITION, m);
			free(m);
			return;
		}
		if (name[0] == 'a')
			ol->addr = json_object_get_int(ret);
		else if (name[0] == 'b')
			ol->bootindex = json_object_get_int(ret);
		else
			ol->num_queues = json_object_get_int(ret);
	} else if (json_object_is_type(ret, json_type_string)) {
		if (strcmp(name, "type") == 0)
			ol->driver = xstrdup(json_object_get_string(ret));
		else if (strcmp(name, "parent_bus") == 0)
			ol->bus = xstrdup(json_object_get_string(ret));
		else if (strcmp(name, "serial") == 0)
			ol->serial = xstrdup(json_object_get_string(ret));
		else if (strcmp(name, "write-cache") == 0)
			ol->write_cache = xstrdup(json_object_get_string(ret));
		else
			ol->iothread = xstrdup(json_object_get_string(ret));
	}
	ol->nprops++;
	ol_props_next(wf);
}

/* PROPS: the next property of the device, or on to the unplug. */
static void
ol_props_next(struct workflow *wf)
{
	struct wf_online	*ol = &wf->rb.ol;
	char			*path, *m;

	if (ol->nprops == sizeof ol_props / sizeof ol_props[0]) {
		if (ol->driver == NULL || ol->bus == NULL ||
		    strncmp(ol->driver, "virtio-blk", 10) != 0) {
			xasprintf(&m, "device %s is a %s, not a virtio-blk disk "
			    "on a PCI bus: online rollback is for those only",
			    ol->device, ol->driver != NULL ? ol->driver : "?");
			ol_end(wf, EVG_FAILED_PRECONDITION, m);
			free(m);
			return;
		}
		ol_unplug(wf);
		return;
	}
	xasprintf(&path, "/machine/peripheral/%s", ol->device);
	ol_qmp(wf, "qom-get", ol_qom_args(path, ol_props[ol->nprops]), NULL,
	    ol_prop_done);
	free(path);
}

/* The cache mode -drive takes for query-block's cache flags. */
static const char *
ol_cache_mode(json_object *cache)
{
	json_object	*v;
	int		 wb = 1, direct = 0, noflush = 0;

	if (json_object_object_get_ex(cache, "writeback", &v))
		wb = json_object_get_boolean(v);
	if (json_object_object_get_ex(cache, "direct", &v))
		direct = json_object_get_boolean(v);
	if (json_object_object_get_ex(cache, "no-flush", &v))
		noflush = json_object_get_boolean(v);
	if (noflush)
		return ("unsafe");
	if (direct)
		return (wb ? "none" : "directsync");
	return (wb ? "writeback" : "writethrough");
}

/* QUERY: the drive whose image is the volume's, and its device. */
static void
ol_query_done(int status, const char *msg, json_object *ret, void *arg)
{
	struct workflow		*wf = arg;
	struct wf_online	*ol = &wf->rb.ol;
	struct reg_vm		*vm = registry_find(wf_g.reg, wf->wv->uuid);
	const struct reg_volume	*vol = vm != NULL ? wf_volume(vm,
				    wf->cur->volume) : NULL;
	json_object		*e, *ins, *v, *cache;
	const char		*file, *qdev, *dev, *p;
	char			*m;
	size_t			 i, n;

	ol->q = NULL;
	if (status != EVG_OK || vol == NULL) {
		xasprintf(&m, "query-block: %s", vol == NULL ? "the volume is "
		    "gone" : msg);
		ol_end(wf, status == EVG_OK ? EVG_NOT_FOUND : status, m);
		free(m);
		return;
	}
	n = json_object_is_type(ret, json_type_array) ?
	    json_object_array_length(ret) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(ret, i);
		if (!json_object_object_get_ex(e, "inserted", &ins) ||
		    (file = jsonread_str(ins, "file")) == NULL ||
		    strcmp(file, vol->locator) != 0)
			continue;
		dev = jsonread_str(e, "device");
		qdev = jsonread_str(e, "qdev");
		if (dev == NULL || *dev == '\0' || qdev == NULL ||
		    strncmp(qdev, "/machine/peripheral/", 20) != 0) {
			xasprintf(&m, "the drive of %s has no id, or its device "
			    "none (%s): it cannot be re-added the same, so it "
			    "is not unplugged", file, qdev != NULL ? qdev :
			    "no device");
			ol_end(wf, EVG_FAILED_PRECONDITION, m);
			free(m);
			return;
		}
		ol->drive = xstrdup(dev);
		ol->file = xstrdup(file);
		p = qdev + 20;
		ol->device = xstrndup(p, strcspn(p, "/"));
		ol->format = xstrdup(jsonread_str(ins, "drv") != NULL ?
		    jsonread_str(ins, "drv") : "qcow2");
		ol->cache = xstrdup(json_object_object_get_ex(ins, "cache",
		    &cache) ? ol_cache_mode(cache) : "writeback");
		ol->readonly = json_object_object_get_ex(ins, "ro", &v) &&
		    json_object_get_boolean(v);
		if ((p = jsonread_str(ins, "detect_zeroes")) != NULL &&
		    strcmp(p, "off") != 0)
			ol->detect_zeroes = xstrdup(p);
		wf->rb.state = ROLLBACK_ONLINE_PROPS;
		ol_props_next(wf);
		return;
	}
	xasprintf(&m, "QEMU holds no drive with image %s", vol->locator);
	ol_end(wf, EVG_NOT_FOUND, m);
	free(m);
}

/* Can the volumes be rolled back online?  See workflow_impl.h. */
const char *
wf_online_volumes_refusal(const struct wf_vm *wv, const struct reg_vm *vm,
    char *const *vols, size_t n)
{
	const struct reg_volume	*vol;

	if (n != 1)
		return ("an online rollback takes one disk at a time");
	if (vm->state != VM_RUNNING)
		return ("the VM is not running (a stopped VM's disk is rolled "
		    "back at once)");
	vol = wf_volume(vm, vols[0]);
	if (vol == NULL || strcmp(vol->backend, "qcow2") != 0)
		return ("only qcow2 volumes are rolled back online (a ZFS "
		    "zvol behind vhost-scsi is not: docs/snapshots.md)");
	if (reg_vm_monitor(vm) == NULL)
		return ("the VM has no QMP socket registered");
	/* Its record is of an unplug QEMU may still carry out. */
	if (wv->cat->online != NULL)
		return ("an earlier online rollback of this VM is not finished "
		    "(QEMU may still unplug its disk)");
	return (NULL);
}

/* Can the member be rolled back online?  NULL, or why not (static). */
const char *
wf_online_refusal(const struct wf_vm *wv, const struct reg_vm *vm,
    const struct wf_members *mem)
{
	char	*vols[1];

	if (mem->n != 1)
		return ("an online rollback takes one disk at a time");
	vols[0] = mem->m[0]->volume;
	return (wf_online_volumes_refusal(wv, vm, vols, 1));
}

/* Go on with an online rollback in wf; see workflow_impl.h. */
void
wf_online_begin(struct workflow *wf)
{
	/* Its own record is not one to recover. */
	wf->wv->online_checked = 1;
	wf->cur = wf->mem.m[0];
	snprintf(wf->rb.ol.snap, sizeof wf->rb.ol.snap, "%s", wf->cur->uuid);
	snprintf(wf->rb.ol.vol, sizeof wf->rb.ol.vol, "%s", wf->cur->volume);
	wf->rb.ol.bootindex = -1;
	wf->rb.online = 1;
	clock_gettime(CLOCK_MONOTONIC, &wf->rb.ol.t_start);
	wf->rb.state = ROLLBACK_ONLINE_QUERY;
	ol_qmp(wf, "query-block", NULL, NULL, ol_query_done);
}

/* Start an online rollback; see workflow_impl.h. */
void
wf_online_run(struct wf_vm *wv, const struct wf_members *mem,
    workflow_done_cb cb, void *arg)
{
	struct workflow	*wf;

	wf = wf_new(WF_ROLLBACK, wv, cb, arg);
	wf->mem = *mem;
	wf->name = xstrdup(mem->m[0]->name);
	snprintf(wf->target, sizeof wf->target, "%s", mem->m[0]->uuid);
	wf_online_begin(wf);
}

/* Free what the online state holds; see workflow_impl.h. */
void
wf_online_free(struct wf_online *ol)
{
	qmp_cancel(ol->q);
	free(ol->drive);
	free(ol->device);
	free(ol->file);
	free(ol->format);
	free(ol->cache);
	free(ol->detect_zeroes);
	free(ol->driver);
	free(ol->bus);
	free(ol->serial);
	free(ol->write_cache);
	free(ol->iothread);
	free(ol->drive_opts);
	json_object_put(ol->dev_args);
	free(ol->fail_msg);
}

/*
 * Recovery: does the device still exist?  QEMU's error reply to qom-get
 * ("qom-get: ...") says it does not; any other failure leaves the record
 * for the next try.
 */
static void
ol_recover_probe_done(int status, const char *msg, json_object *ret,
    void *arg)
{
	struct workflow		*wf = arg;
	struct wf_online	*ol = &wf->rb.ol;

	(void)ret;
	ol->q = NULL;
	if (status == EVG_OK) {
		/* Not unplugged, or not yet: the record waits for it. */
		if (ol->recovering == 1) {
			ol_journal(wf, "unplug-pending");
			wf_event(wf, "rollback-failed", EVG_UNAVAILABLE, "the host "
			    "daemon stopped before the unplug of disk %s was "
			    "confirmed: nothing was rolled back, the disk is "
			    "attached; should QEMU still unplug it, the host "
			    "plugs it back as it is", ol->device);
		}
		wf_finish(wf, EVG_OK, NULL);
		return;
	}
	if (status != EVG_BACKEND_ERROR || strncmp(msg, "qom-get: ", 9) != 0) {
		log_warnx("vm %s: the online rollback's record waits: %s",
		    wf->wv->uuid, msg);
		wf_finish(wf, EVG_OK, NULL);
		return;
	}
	/*
	 * Gone.  A rollback whose requester was told it failed (the unplug
	 * came too late) is undone: the disk comes back as it is.  One cut
	 * short by the daemon's death is finished.
	 */
	ol->no_revert = ol->recovering == 2;
	clock_gettime(CLOCK_MONOTONIC, &ol->t_detached);
	wf_event(wf, "disk-detached", 0, "device %s was unplugged (%s); %s",
	    ol->device, ol->recovering == 2 ? "late" : "when the host daemon "
	    "stopped", ol->no_revert ? "plugging it back as it is" :
	    "finishing the rollback");
	wf->rb.state = ROLLBACK_ONLINE_DRIVE;
	ol_qmp(wf, "query-block", NULL, NULL, ol_drive_done);
}

/* Finish or undo an online rollback from the record; see workflow_impl.h. */
int
wf_online_recover(struct wf_vm *wv)
{
	struct reg_vm		*vm = registry_find(wf_g.reg, wv->uuid);
	const struct reg_volume	*vol;
	struct workflow		*wf;
	struct wf_online	*ol;
	json_object		*o, *dev;
	const char		*phase, *snap, *volume;
	char			*path, *why;

	o = json_tokener_parse(wv->cat->online);
	phase = o != NULL ? jsonread_str(o, "phase") : NULL;
	snap = o != NULL ? jsonread_str(o, "snapshot") : NULL;
	volume = o != NULL ? jsonread_str(o, "volume") : NULL;
	vol = vm != NULL && volume != NULL ? wf_volume(vm, volume) : NULL;
	if (vm == NULL || vm->state != VM_RUNNING || phase == NULL ||
	    !uuid_valid(snap) || vol == NULL ||
	    jsonread_str(o, "device") == NULL ||
	    jsonread_str(o, "drive") == NULL ||
	    jsonread_str(o, "drive_add") == NULL ||
	    !json_object_object_get_ex(o, "device_add", &dev) ||
	    !json_object_is_type(dev, json_type_object)) {
		/* QEMU is gone (or the record unusable): nothing to put back. */
		log_warnx("vm %s: dropping the record of an online rollback "
		    "(%s)", wv->uuid, vm == NULL || vm->state != VM_RUNNING ?
		    "the VM no longer runs" : "unusable");
		free(wv->cat->online);
		wv->cat->online = NULL;
		if (catalog_commit(wv->cat, &why) != 0) {
			log_warnx("vm %s: %s", wv->uuid, why);
			free(why);
		}
		json_object_put(o);
		return (0);
	}
	if (wf_begin(vm->uuid, WF_ROLLBACK, &wv, &vm, &why) != EVG_OK) {
		free(why);
		json_object_put(o);
		return (0);
	}
	wf = wf_new(WF_ROLLBACK, wv, NULL, NULL);
	/* The snapshot may be gone: the disk still comes back. */
	wf->cur = catalog_find(wv->cat, snap);
	wf->name = xstrdup(wf->cur != NULL ? wf->cur->name : snap);
	snprintf(wf->target, sizeof wf->target, "%s", snap);
	wf->rb.online = 1;
	ol = &wf->rb.ol;
	snprintf(ol->snap, sizeof ol->snap, "%s", snap);
	snprintf(ol->vol, sizeof ol->vol, "%s", volume);
	clock_gettime(CLOCK_MONOTONIC, &ol->t_start);
	ol->device = xstrdup(jsonread_str(o, "device"));
	ol->drive = xstrdup(jsonread_str(o, "drive"));
	ol->drive_opts = xstrdup(jsonread_str(o, "drive_add"));
	ol->dev_args = json_object_get(dev);
	ol->bus = xstrdup(jsonread_str(dev, "bus") != NULL ?
	    jsonread_str(dev, "bus") : "?");
	ol->file = xstrdup(vol->locator);
	if (strcmp(phase, "unplug-pending") == 0)
		log_info("vm %s: device %s was asked to unplug and the guest "
		    "had not let it go: checking it again", wv->uuid,
		    ol->device);
	else
		log_warnx("vm %s: an online rollback of device %s was left at "
		    "%s by a daemon that stopped; finishing it", wv->uuid,
		    ol->device, phase);
	if (strcmp(phase, "reverted") == 0 || strcmp(phase, "detached") == 0) {
		/* The drive step sees a disk already back, and says so. */
		ol->reverted = strcmp(phase, "reverted") == 0;
		clock_gettime(CLOCK_MONOTONIC, &ol->t_detached);
		wf->rb.state = ROLLBACK_ONLINE_DRIVE;
		ol_qmp(wf, "query-block", NULL, NULL, ol_drive_done);
	} else {
		ol->recovering = strcmp(phase, "unplug-pending") == 0 ? 2 : 1;
		wf->rb.state = ROLLBACK_ONLINE_QUERY;
		xasprintf(&path, "/machine/peripheral/%s", ol->device);
		ol_qmp(wf, "qom-get", ol_qom_args(path, "type"), NULL,
		    ol_recover_probe_done);
		free(path);
	}
	json_object_put(o);
	return (1);
}
