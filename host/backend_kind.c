/* The table of snapshot backends; see backend_kind.h. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "backend_kind.h"
#include "zfs.h"

/* One row per backend; the order is the one messages and --help list. */
const struct backend_kind backend_kinds[] = {
	{
		.name = "qcow2",
		.locator_valid = qcow2_locator_valid,
		.locator_what = "an absolute qcow2 image path",
		.node = 1,
		.command_key = "qemu_img",
		.command_default = "qemu-img",
		.command_offset = offsetof(struct backend_commands, qemu_img),
		.start = backend_qcow2_start,
		.prepares = backend_qcow2_prepares,
	},
	{
		.name = "zfs",
		.locator_valid = zfs_dataset_valid,
		.locator_what = "a ZFS dataset name",
		.node = 0,
		.command_key = "zfs",
		.command_default = "zfs",
		.command_offset = offsetof(struct backend_commands, zfs),
		.start = backend_zfs_start,
	},
};

const size_t backend_nkinds = sizeof backend_kinds / sizeof backend_kinds[0];

/* The row named name, or NULL. */
const struct backend_kind *
backend_kind_find(const char *name)
{
	size_t	i;

	if (name == NULL)
		return (NULL);
	for (i = 0; i < backend_nkinds; i++)
		if (strcmp(backend_kinds[i].name, name) == 0)
			return (&backend_kinds[i]);
	return (NULL);
}

/* The names as a list for messages; see backend_kind.h. */
char *
backend_kind_names(char *buf, size_t len, const char *sep, const char *last,
    int node_only)
{
	size_t	i, n = 0, total = 0, used;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	for (i = 0; i < backend_nkinds; i++)
		if (!node_only || backend_kinds[i].node)
			total++;
	for (i = 0; i < backend_nkinds; i++) {
		if (node_only && !backend_kinds[i].node)
			continue;
		n++;
		used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", n == 1 ? "" :
		    n == total ? last : sep, backend_kinds[i].name);
	}
	return (buf);
}
