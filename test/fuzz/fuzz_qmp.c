/*
 * fuzz_qmp: what QEMU tells the host.  The host's QMP client (host/qmp.c)
 * reads the monitor stream, from the greeting to the command's answer,
 * through a client on no socket (qmp_detached(), qmp_input()) with the
 * stream cut into reads at places the fuzzer picks; the qcow2 backend
 * (host/backend_qcow2.c) then looks for a volume's block node in the
 * answer, as query-block or query-named-block-nodes would give it, by its
 * node= and by its image's file name (qcow2_find_node()), and reads that
 * node's snapshots (qcow2_node_snapshots()).  Or the qcow2 backend reads
 * `qemu-img info --output=json` (qcow2_parse_info()).
 *
 * Proves: whatever a QEMU process (which a guest escape would own) or
 * qemu-img writes (greetings, events, returns and errors with any JSON
 * types, "node-name": null, stale ids, garbage), the host ends in one
 * outcome, success with the command's return value or a backend error
 * with a message, and never crashes, leaks or reads past what it was
 * given; how the bytes arrive does not change the outcome; no snapshot it
 * takes from QEMU has an empty name or a time it cannot store.
 *
 * Oracle: the outcome (callback called at most once, its status, message,
 * return value as JSON text, the nodes found in it and their snapshots) is
 * the same fed in pieces as fed whole; a success has no message, a failure
 * has one; a node found has a string node-name and, found by file, is a
 * qcow2 node of that file; several found are a message of printable ASCII
 * and bounded length; every snapshot read has a non-empty name, a time of
 * at most JSONOUT_TIME_MAX and a size of at most INT64_MAX.
 *
 * Reads never split a number: json-c 0.16 rebuilds a number's state at
 * the start of each read without all of it ("2" then "-," reads as 2,
 * "2-," as an error), which no QEMU output can meet.
 *
 * Input: byte 0 even: the cut points (fuzzutil.h), then the QMP stream;
 * the client runs query-block, its requests carry ids 1 (qmp_capabilities)
 * and 2, the volume's node= is "drive-virtio-disk1" and its image
 * LOCATOR, REAL once symlinks are resolved.  Byte 0 of 2 modulo 4: the
 * client also waits for the event DEVICE_DELETED of device
 * "virtio-disk0" (qmp_await_event(), an online rollback's device_del),
 * which may come before or after the answer; its success value is the
 * event's data.
 * Byte 0 odd: qemu-img info output follows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "backend_impl.h"
#include "fuzzutil.h"
#include "jsonout.h"
#include "jsonread.h"
#include "qmp.h"
#include "status.h"
#include "xmalloc.h"

#define NODE	"drive-virtio-disk1"
#define LOCATOR	"/persist/vault/volumes/data.qcow2"
#define REAL	"/persist/vault/volumes/real.qcow2"
/* Longer than any message about several nodes (4 escaped names, drives). */
#define SEVERAL_MAX	1024

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What qcow2_find_node() found, one way. */
struct lookup {
	int	 rc;
	char	*found;		/* its node-name */
	char	*cause;
	size_t	 nsnaps;
};

/* What the callback saw. */
struct outcome {
	int		 calls;
	int		 status;
	char		*message;
	char		*ret;
	struct lookup	 by_node;
	struct lookup	 by_file;
};

/* Check the snapshots a parser read, then clear them; returns how many. */
static size_t
check_snaps(struct backend_result *res)
{
	size_t	i, n = res->nsnaps;

	for (i = 0; i < n; i++) {
		FUZZ_CHECK(res->snaps[i].tag != NULL &&
		    *res->snaps[i].tag != '\0');
		FUZZ_CHECK(res->snaps[i].created <= JSONOUT_TIME_MAX);
		FUZZ_CHECK(res->snaps[i].size <= INT64_MAX);
	}
	backend_result_clear(res);
	memset(res, 0, sizeof *res);
	return (n);
}

/* Strings equal, NULL only equal to NULL. */
static int
same(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

/* Look for the volume's node by node= (or by file, node NULL); check. */
static void
lookup(json_object *ret, const char *node, struct lookup *l)
{
	struct backend_result	 res;
	json_object		*found = NULL;
	const char		*name, *drv, *file, *p;

	l->cause = NULL;
	l->rc = qcow2_find_node(ret, node, LOCATOR, REAL, &found, &l->cause);
	FUZZ_CHECK(l->rc >= -1 && l->rc <= 1);
	FUZZ_CHECK((l->rc == 1) == (found != NULL));
	FUZZ_CHECK((l->rc == -1) == (l->cause != NULL));
	if (l->cause != NULL) {
		FUZZ_CHECK(*l->cause != '\0' &&
		    strlen(l->cause) <= SEVERAL_MAX);
		for (p = l->cause; *p != '\0'; p++)
			FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
	}
	if (found == NULL)
		return;
	FUZZ_CHECK((name = jsonread_str(found, "node-name")) != NULL);
	l->found = xstrdup(name);
	if (node == NULL) {
		drv = jsonread_str(found, "drv");
		file = jsonread_str(found, "file");
		FUZZ_CHECK(drv != NULL && strcmp(drv, "qcow2") == 0);
		FUZZ_CHECK(file != NULL && (strcmp(file, LOCATOR) == 0 ||
		    strcmp(file, REAL) == 0));
	}
	memset(&res, 0, sizeof res);
	qcow2_node_snapshots(found, &res);
	l->nsnaps = check_snaps(&res);
}

/* Two lookups ended alike. */
static int
lookup_same(const struct lookup *a, const struct lookup *b)
{
	return (a->rc == b->rc && same(a->found, b->found) &&
	    same(a->cause, b->cause) && a->nsnaps == b->nsnaps);
}

/* Free what a lookup holds. */
static void
lookup_free(struct lookup *l)
{
	free(l->found);
	free(l->cause);
}

/* The client's callback: record the outcome, look for the volume's node. */
static void
done(int status, const char *message, json_object *ret, void *arg)
{
	struct outcome		*o = arg;

	o->calls++;
	o->status = status;
	o->message = message != NULL ? xstrdup(message) : NULL;
	o->ret = xstrdup(ret != NULL ? json_object_to_json_string_ext(ret,
	    JSON_C_TO_STRING_PLAIN) : "(none)");
	if (status != EVG_OK)
		return;
	lookup(ret, NODE, &o->by_node);
	lookup(ret, NULL, &o->by_file);
}

/* qemu-img info output: read its snapshots. */
static void
qemu_img_info(const uint8_t *data, size_t size)
{
	struct backend_result	 res;
	char			*text;

	text = fuzz_cstr(data, size);
	memset(&res, 0, sizeof res);
	if (qcow2_parse_info(text, &res) == -1)
		FUZZ_CHECK(res.nsnaps == 0);
	check_snaps(&res);
	free(text);
}

/* Run one client on the stream in the pieces the cuts make. */
static void
run(struct event_base *base, const uint8_t *data, size_t size,
    const size_t *cuts, size_t ncuts, int await, struct outcome *o)
{
	struct qmp	*q;
	size_t		 i, from = 0, to;
	int		 finished = 0;

	q = qmp_detached(base, "query-block", done, o);
	if (await)
		qmp_await_event(q, "DEVICE_DELETED", "virtio-disk0");
	for (i = 0; i <= ncuts && !finished; i++) {
		to = i < ncuts ? cuts[i] : size;
		finished = qmp_input(q, (const char *)data + from, to - from);
		from = to;
	}
	if (finished) {
		FUZZ_CHECK(o->calls == 0);
		event_base_loop(base, EVLOOP_NONBLOCK);
		FUZZ_CHECK(o->calls == 1);
	} else
		qmp_cancel(q);
}

/* Move each cut past the number it would split (see the top). */
static void
cuts_between_numbers(const uint8_t *data, size_t size, size_t *cuts,
    size_t ncuts)
{
	static const char	number[] = "0123456789.+-eE";
	size_t			i;

	for (i = 0; i < ncuts; i++)
		while (cuts[i] > 0 && cuts[i] < size &&
		    memchr(number, data[cuts[i] - 1], sizeof number - 1) !=
		    NULL)
			cuts[i]++;
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base	*base;
	struct outcome			 whole, split;
	size_t				 cuts[FUZZ_CUTS_MAX], ncuts;
	int				 await;

	if (base == NULL && (base = event_base_new()) == NULL)
		abort();
	if (size == 0)
		return (0);
	if (data[0] % 2 == 1) {
		qemu_img_info(data + 1, size - 1);
		return (0);
	}
	await = data[0] % 4 == 2;
	data++;
	size--;
	ncuts = fuzz_cuts(&data, &size, cuts);
	cuts_between_numbers(data, size, cuts, ncuts);
	memset(&whole, 0, sizeof whole);
	memset(&split, 0, sizeof split);
	run(base, data, size, NULL, 0, await, &whole);
	run(base, data, size, cuts, ncuts, await, &split);

	if (whole.calls != 0) {
		FUZZ_CHECK(whole.status == EVG_OK ||
		    whole.status == EVG_BACKEND_ERROR);
		FUZZ_CHECK((whole.status == EVG_OK) == (whole.message == NULL));
	}
	if (whole.calls != split.calls || whole.status != split.status ||
	    !same(whole.message, split.message) ||
	    !same(whole.ret, split.ret) ||
	    !lookup_same(&whole.by_node, &split.by_node) ||
	    !lookup_same(&whole.by_file, &split.by_file))
		fuzz_fail("split differently, the same QMP stream ends "
		    "otherwise: %d %d '%s' %s, then %d %d '%s' %s",
		    whole.calls, whole.status, whole.message, whole.ret,
		    split.calls, split.status, split.message, split.ret);
	free(whole.message);
	free(whole.ret);
	lookup_free(&whole.by_node);
	lookup_free(&whole.by_file);
	free(split.message);
	free(split.ret);
	lookup_free(&split.by_node);
	lookup_free(&split.by_file);
	return (0);
}
