/* --volume key=value list parsing for eve-guest-hostctl. */
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "volspec.h"
#include "xmalloc.h"

/* Set a single-valued string field, refusing a repeat or nothing. */
static int
volspec_set(char **field, const char *key, const char *value, char **cause)
{
	if (*field != protobuf_c_empty_string) {
		xasprintf(cause, "--volume: %s= given twice", key);
		return (-1);
	}
	/* On the wire an empty string is no value at all. */
	if (*value == '\0') {
		xasprintf(cause, "--volume: %s= is empty", key);
		return (-1);
	}
	*field = xstrdup(value);
	return (0);
}

/* Append a disk=KIND:VALUE identifier. */
static int
volspec_disk(Evg__Volume *v, const char *value, char **cause)
{
	const char	*colon;
	Evg__DiskId	*d;

	if ((colon = strchr(value, ':')) == NULL || colon == value ||
	    colon[1] == '\0') {
		xasprintf(cause, "--volume: disk=%s: expected disk=KIND:VALUE "
		    "(KIND is serial, wwn, pci, pcipath or backing)", value);
		return (-1);
	}
	if (v->n_disks == REGISTRY_MAX_DISKS) {
		xasprintf(cause, "--volume: more than %d disk= identifiers",
		    REGISTRY_MAX_DISKS);
		return (-1);
	}
	d = xmalloc(sizeof *d);
	evg__disk_id__init(d);
	d->kind = xstrndup(value, (size_t)(colon - value));
	d->value = xstrdup(colon + 1);
	v->disks = xreallocarray(v->disks, v->n_disks + 1, sizeof *v->disks);
	v->disks[v->n_disks++] = d;
	return (0);
}

/* Parse a --volume argument; see volspec.h. */
Evg__Volume *
volspec_parse(const char *spec, char **cause)
{
	static const char	*required[] = { "uuid", "name", "backend",
				    "locator" };
	Evg__Volume		*v;
	char			*copy, *item, *save, *eq;
	char			**fields[4];
	size_t			 i;
	int			 rc = 0;

	v = xmalloc(sizeof *v);
	evg__volume__init(v);
	fields[0] = &v->uuid;
	fields[1] = &v->name;
	fields[2] = &v->backend;
	fields[3] = &v->locator;
	copy = xstrdup(spec);
	for (item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
	    item = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(item, '=')) == NULL || eq == item) {
			xasprintf(cause, "--volume: '%s' is not KEY=VALUE",
			    item);
			rc = -1;
			break;
		}
		*eq++ = '\0';
		if (strcmp(item, "disk") == 0)
			rc = volspec_disk(v, eq, cause);
		else if (strcmp(item, "node") == 0)
			rc = volspec_set(&v->node, item, eq, cause);
		else {
			for (i = 0; i < 4; i++)
				if (strcmp(item, required[i]) == 0)
					break;
			if (i == 4) {
				xasprintf(cause, "--volume: unknown key '%s' "
				    "(expected uuid, name, backend, locator, "
				    "disk or node)", item);
				rc = -1;
			} else
				rc = volspec_set(fields[i], item, eq, cause);
		}
	}
	free(copy);
	for (i = 0; i < 4 && rc == 0; i++) {
		if (*fields[i] == protobuf_c_empty_string) {
			xasprintf(cause, "--volume: %s= is missing", required[i]);
			rc = -1;
		}
	}
	if (rc == 0 && v->n_disks == 0) {
		xasprintf(cause, "--volume: disk=KIND:VALUE is missing");
		rc = -1;
	}
	if (rc != 0) {
		volspec_free(v);
		return (NULL);
	}
	return (v);
}

/* Free a parsed volume. */
void
volspec_free(Evg__Volume *v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n_disks; i++) {
		free(v->disks[i]->kind);
		free(v->disks[i]->value);
		free(v->disks[i]);
	}
	free(v->disks);
	if (v->uuid != protobuf_c_empty_string)
		free(v->uuid);
	if (v->name != protobuf_c_empty_string)
		free(v->name);
	if (v->backend != protobuf_c_empty_string)
		free(v->backend);
	if (v->locator != protobuf_c_empty_string)
		free(v->locator);
	if (v->node != protobuf_c_empty_string)
		free(v->node);
	free(v);
}
