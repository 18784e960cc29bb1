/*
 * fuzz_volspec: eve-guest-hostctl's --volume parser (host/volspec.c,
 * volspec_parse()).
 *
 * Proves: no argument makes the parser crash or leak, and what it accepts
 * is a complete volume that goes on the wire unchanged.
 *
 * Oracle: an accepted spec has uuid, name, backend and locator set, 1 to
 * REGISTRY_MAX_DISKS disk= identifiers with a kind and a value, no value
 * holding the ',' separator; written back as a spec it parses to the same
 * volume; it packs as a protobuf Volume that unpacks to the same fields.
 * A refused spec gets a cause naming --volume.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "registry.h"
#include "volspec.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Append ",key=value" (or "key=value" first) to *spec. */
static void
spec_add(char **spec, const char *key, const char *value)
{
	char	*old = *spec;

	xasprintf(spec, "%s%s%s=%s", old != NULL ? old : "",
	    old != NULL ? "," : "", key, value);
	free(old);
}

/* The spec for v, the fields in a fixed order. */
static char *
spec_of(const Evg__Volume *v)
{
	char	*spec = NULL, *disk;
	size_t	 i;

	spec_add(&spec, "uuid", v->uuid);
	spec_add(&spec, "name", v->name);
	spec_add(&spec, "backend", v->backend);
	spec_add(&spec, "locator", v->locator);
	for (i = 0; i < v->n_disks; i++) {
		xasprintf(&disk, "%s:%s", v->disks[i]->kind,
		    v->disks[i]->value);
		spec_add(&spec, "disk", disk);
		free(disk);
	}
	if (v->node != protobuf_c_empty_string)
		spec_add(&spec, "node", v->node);
	return (spec);
}

/* Fail unless two volumes have the same fields. */
static void
same_volume(const Evg__Volume *a, const Evg__Volume *b)
{
	size_t	i;

	FUZZ_CHECK(strcmp(a->uuid, b->uuid) == 0);
	FUZZ_CHECK(strcmp(a->name, b->name) == 0);
	FUZZ_CHECK(strcmp(a->backend, b->backend) == 0);
	FUZZ_CHECK(strcmp(a->locator, b->locator) == 0);
	FUZZ_CHECK(strcmp(a->node, b->node) == 0);
	FUZZ_CHECK(a->n_disks == b->n_disks);
	for (i = 0; i < a->n_disks; i++) {
		FUZZ_CHECK(strcmp(a->disks[i]->kind, b->disks[i]->kind) == 0);
		FUZZ_CHECK(strcmp(a->disks[i]->value, b->disks[i]->value) ==
		    0);
	}
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Evg__Volume	*v, *again, *wire;
	char		*spec, *cause = NULL, *spec2;
	uint8_t		*buf;
	size_t		 i, len;

	spec = fuzz_cstr(data, size);
	v = volspec_parse(spec, &cause);
	free(spec);
	if (v == NULL) {
		FUZZ_CHECK(cause != NULL &&
		    strncmp(cause, "--volume: ", 10) == 0);
		free(cause);
		return (0);
	}
	FUZZ_CHECK(*v->uuid != '\0' && *v->name != '\0' &&
	    *v->backend != '\0' && *v->locator != '\0');
	FUZZ_CHECK(v->n_disks >= 1 && v->n_disks <= REGISTRY_MAX_DISKS);
	for (i = 0; i < v->n_disks; i++) {
		FUZZ_CHECK(*v->disks[i]->kind != '\0' &&
		    *v->disks[i]->value != '\0');
		FUZZ_CHECK(strchr(v->disks[i]->kind, ':') == NULL);
	}

	spec2 = spec_of(v);
	if ((again = volspec_parse(spec2, &cause)) == NULL)
		fuzz_fail("'%s' (written back) does not parse: %s", spec2,
		    cause);
	same_volume(v, again);
	free(spec2);
	volspec_free(again);

	len = evg__volume__get_packed_size(v);
	buf = xmalloc(len + 1);
	evg__volume__pack(v, buf);
	wire = evg__volume__unpack(NULL, len, buf);
	FUZZ_CHECK(wire != NULL);
	same_volume(v, wire);
	evg__volume__free_unpacked(wire, NULL);
	free(buf);
	volspec_free(v);
	return (0);
}
