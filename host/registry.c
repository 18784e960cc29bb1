/* VM registry: validation, lookup and JSON persistence. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "atomicfile.h"
#include "backend_kind.h"
#include "log.h"
#include "registry.h"
#include "status.h"
#include "strhash.h"
#include "text.h"
#include "transport.h"
#include "uuidx.h"
#include "xmalloc.h"

#define REGISTRY_FILE_MAX	(16 * 1024 * 1024)
#define REGISTRY_FORMAT		1
#define DISK_VALUE_MAX		256
#define NODE_NAME_MAX		31

static int	registry_persist(struct registry *, const struct reg_vm *,
		    const struct reg_vm *, const char *, char **);

/* Create an empty registry persisted at path (NULL: memory only). */
struct registry *
registry_create(const char *path)
{
	struct registry	*reg;

	reg = xcalloc(1, sizeof *reg);
	reg->path = path != NULL ? xstrdup(path) : NULL;
	TAILQ_INIT(&reg->vms);
	reg->journal.fd = -1;
	return (reg);
}

/* Free one volume's strings. */
static void
reg_volume_clear(struct reg_volume *vol)
{
	size_t	i;

	for (i = 0; i < vol->ndisks; i++) {
		free(vol->disks[i].kind);
		free(vol->disks[i].value);
	}
	free(vol->disks);
	free(vol->name);
	free(vol->backend);
	free(vol->locator);
	free(vol->node);
}

/* Free a record's volumes; see registry.h. */
void
reg_vm_clear_volumes(struct reg_vm *vm)
{
	size_t	i;

	for (i = 0; i < vm->nvolumes; i++)
		reg_volume_clear(&vm->volumes[i]);
	free(vm->volumes);
	vm->volumes = NULL;
	vm->nvolumes = 0;
}

/* Free a record that is not in a registry. */
void
reg_vm_free(struct reg_vm *vm)
{
	if (vm == NULL)
		return;
	reg_vm_clear_volumes(vm);
	free(vm->name);
	free(vm->hybrid);
	free(vm->qmp);
	free(vm->qmp_agent);
	free(vm);
}

/* A copy of a string that may be NULL. */
static char *
reg_strdup(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

/* A deep copy of a record; see registry.h. */
struct reg_vm *
reg_vm_dup(const struct reg_vm *vm)
{
	struct reg_vm		*c;
	struct reg_volume	*cv;
	const struct reg_volume	*v;
	size_t			 i, j;

	c = xcalloc(1, sizeof *c);
	memcpy(c->uuid, vm->uuid, sizeof c->uuid);
	c->name = reg_strdup(vm->name);
	c->cid = vm->cid;
	c->hybrid = reg_strdup(vm->hybrid);
	c->qmp = reg_strdup(vm->qmp);
	c->qmp_agent = reg_strdup(vm->qmp_agent);
	c->snapshot_budget = vm->snapshot_budget;
	c->state = vm->state;
	c->nvolumes = vm->nvolumes;
	c->volumes = xcalloc(vm->nvolumes == 0 ? 1 : vm->nvolumes,
	    sizeof *c->volumes);
	for (i = 0; i < vm->nvolumes; i++) {
		v = &vm->volumes[i];
		cv = &c->volumes[i];
		memcpy(cv->uuid, v->uuid, sizeof cv->uuid);
		cv->name = reg_strdup(v->name);
		cv->backend = reg_strdup(v->backend);
		cv->locator = reg_strdup(v->locator);
		cv->node = reg_strdup(v->node);
		cv->ndisks = v->ndisks;
		cv->disks = xcalloc(v->ndisks == 0 ? 1 : v->ndisks,
		    sizeof *cv->disks);
		for (j = 0; j < v->ndisks; j++) {
			cv->disks[j].kind = reg_strdup(v->disks[j].kind);
			cv->disks[j].value = reg_strdup(v->disks[j].value);
		}
	}
	return (c);
}

/* The monitor the daemon uses; see registry.h. */
const char *
reg_vm_monitor(const struct reg_vm *vm)
{
	return (vm->qmp_agent != NULL ? vm->qmp_agent : vm->qmp);
}

/* Free the registry and every record. */
void
registry_free(struct registry *reg)
{
	struct reg_vm	*vm;

	if (reg == NULL)
		return;
	while ((vm = TAILQ_FIRST(&reg->vms)) != NULL) {
		TAILQ_REMOVE(&reg->vms, vm, entry);
		reg_vm_free(vm);
	}
	uuidx_clear(&reg->byuuid);
	regjournal_close(&reg->journal);
	free(reg->path);
	free(reg);
}

/* "running", "stopped" or "starting". */
const char *
vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_RUNNING:
		return ("running");
	case VM_STARTING:
		return ("starting");
	default:
		return ("stopped");
	}
}

/* Parse a run state name. */
int
vm_state_parse(const char *s, enum vm_state *out)
{
	if (s != NULL && strcmp(s, "running") == 0)
		*out = VM_RUNNING;
	else if (s != NULL && strcmp(s, "stopped") == 0)
		*out = VM_STOPPED;
	else if (s != NULL && strcmp(s, "starting") == 0)
		*out = VM_STARTING;
	else
		return (-1);
	return (0);
}

/* True if s is non-empty printable ASCII without spaces, at most max. */
static int
registry_token(const char *s, size_t max)
{
	size_t	i;

	if (s == NULL || *s == '\0' || strlen(s) > max)
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if (!isgraph((unsigned char)s[i]))
			return (0);
	return (1);
}

/* True if s is a PCI address DDDD:BB:SS.F in hexadecimal. */
static int
registry_pci(const char *s)
{
	static const char	*shape = "xxxx:xx:xx.x";
	size_t			 i;

	if (strlen(s) != strlen(shape))
		return (0);
	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) :
		    s[i] != shape[i])
			return (0);
	}
	return (1);
}

/*
 * True if s is a PCI path: an optional domain (4 to 8 hex digits and a
 * ':'), then 1 to REGISTRY_PCIPATH_DEPTH slot.function pairs (SS.F, hex
 * slot, function 0-7) joined by '/'.
 */
static int
registry_pcipath(const char *s)
{
	size_t	n, depth = 0;

	for (n = 0; isxdigit((unsigned char)s[n]); n++)
		;
	if (s[n] == ':') {
		if (n < 4 || n > 8)
			return (0);
		s += n + 1;
	}
	for (;;) {
		if (!isxdigit((unsigned char)s[0]) ||
		    !isxdigit((unsigned char)s[1]) || s[2] != '.' ||
		    s[3] < '0' || s[3] > '7' || ++depth > REGISTRY_PCIPATH_DEPTH)
			return (0);
		s += 4;
		if (*s == '\0')
			return (1);
		if (*s++ != '/')
			return (0);
	}
}

/* The canonical PCI path; see registry.h. */
void
registry_pcipath_canon(char *s)
{
	char	*p;

	if (strncmp(s, "0000:", 5) == 0)
		memmove(s, s + 5, strlen(s + 5) + 1);
	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* True if s is a QEMU node name: a letter, then [A-Za-z0-9_.-]. */
static int
registry_node(const char *s)
{
	size_t	i;

	if (s == NULL || !isalpha((unsigned char)s[0]) ||
	    strlen(s) > NODE_NAME_MAX)
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
			return (0);
	return (1);
}

/* An absolute path of at most max bytes; see registry.h. */
int
registry_path_valid(const char *s, size_t max)
{
	return (s != NULL && s[0] == '/' && strlen(s) <= max &&
	    strchr(s, '\n') == NULL);
}

/* Check one disk identifier; status code with *cause naming the field. */
static int
registry_check_disk(const struct reg_disk *d, size_t vi, size_t di,
    char **cause)
{
	const char	*k = d->kind != NULL ? d->kind : "";

	if (strcmp(k, "serial") != 0 && strcmp(k, "wwn") != 0 &&
	    strcmp(k, "pci") != 0 && strcmp(k, "pcipath") != 0 &&
	    strcmp(k, "backing") != 0) {
		xasprintf(cause, "volume[%zu].disk[%zu].kind: unknown disk "
		    "identifier kind '%s' (expected serial, wwn, pci, pcipath "
		    "or backing)", vi, di, k);
		return (EVG_INVALID_ARGUMENT);
	}
	if (!registry_token(d->value, DISK_VALUE_MAX) ||
	    (strcmp(k, "pci") == 0 && !registry_pci(d->value)) ||
	    (strcmp(k, "pcipath") == 0 && !registry_pcipath(d->value)) ||
	    (strcmp(k, "backing") == 0 &&
	    !registry_path_valid(d->value, REGISTRY_PATH_MAX))) {
		xasprintf(cause, "volume[%zu].disk[%zu].value: bad %s '%s'%s",
		    vi, di, k, d->value != NULL ? d->value : "",
		    strcmp(k, "pci") == 0 ? " (expected DDDD:BB:SS.F)" :
		    strcmp(k, "pcipath") == 0 ? " (expected [DDDD:]SS.F/SS.F..., "
		    "e.g. 04.0/00.0)" :
		    strcmp(k, "backing") == 0 ? " (expected an absolute path)" :
		    " (expected 1-256 printable characters, no spaces)");
		return (EVG_INVALID_ARGUMENT);
	}
	return (EVG_OK);
}

/* Check one volume; status code with *cause naming the field. */
static int
registry_check_volume(const struct reg_volume *vol, size_t vi, char **cause)
{
	const struct backend_kind	*kind;
	const char			*why;
	char				 names[128];
	size_t				 di;
	int				 rc;

	if (!uuid_valid(vol->uuid)) {
		xasprintf(cause, "volume[%zu].uuid: '%s' is not a UUID", vi,
		    vol->uuid);
		return (EVG_INVALID_ARGUMENT);
	}
	if (!text_valid_name(vol->name, NAME_MAX_CHARS, &why)) {
		xasprintf(cause, "volume[%zu].name: %s (1-%d printable "
		    "characters)", vi, why, NAME_MAX_CHARS);
		return (EVG_INVALID_ARGUMENT);
	}
	if ((kind = backend_kind_find(vol->backend)) == NULL) {
		xasprintf(cause, "volume[%zu].backend: unknown backend '%s' "
		    "(expected %s)", vi, vol->backend != NULL ? vol->backend :
		    "", backend_kind_names(names, sizeof names, ", ", " or ",
		    0));
		return (EVG_INVALID_ARGUMENT);
	}
	if (!kind->locator_valid(vol->locator)) {
		xasprintf(cause, "volume[%zu].locator: '%s' is not %s", vi,
		    vol->locator != NULL ? vol->locator : "",
		    kind->locator_what);
		return (EVG_INVALID_ARGUMENT);
	}
	if (vol->node != NULL && (!kind->node || !registry_node(vol->node))) {
		xasprintf(cause, "volume[%zu].node: '%s' is not a QEMU node "
		    "name (a letter then up to %d of [A-Za-z0-9_.-]; %s only)",
		    vi, vol->node, NODE_NAME_MAX - 1, backend_kind_names(names,
		    sizeof names, ", ", " or ", 1));
		return (EVG_INVALID_ARGUMENT);
	}
	if (vol->ndisks == 0 || vol->ndisks > REGISTRY_MAX_DISKS) {
		xasprintf(cause, "volume[%zu].disk: %zu disk identifiers "
		    "(expected 1-%d)", vi, vol->ndisks, REGISTRY_MAX_DISKS);
		return (EVG_INVALID_ARGUMENT);
	}
	for (di = 0; di < vol->ndisks; di++)
		if ((rc = registry_check_disk(&vol->disks[di], vi, di,
		    cause)) != EVG_OK)
			return (rc);
	return (EVG_OK);
}

/* Set by registry_allow_loopback(); see registry.h. */
static int	registry_loopback;

/* Accept CID_LOOPBACK or not; see registry.h. */
void
registry_allow_loopback(int on)
{
	registry_loopback = on;
	if (on)
		log_warnx("%s: CID %d (vsock loopback) is accepted as a VM's "
		    "CID: allow_loopback_cid is for tests only", __func__,
		    CID_LOOPBACK);
}

/* Check a record on its own; see registry.h. */
int
registry_check(const struct reg_vm *vm, char **cause)
{
	const char	*why;
	size_t		 i, j;
	int		 rc;

	if (!uuid_valid(vm->uuid)) {
		xasprintf(cause, "uuid: '%s' is not a UUID "
		    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", vm->uuid);
		return (EVG_INVALID_ARGUMENT);
	}
	if (!text_valid_name(vm->name, NAME_MAX_CHARS, &why)) {
		xasprintf(cause, "name: %s (1-%d printable characters)", why,
		    NAME_MAX_CHARS);
		return (EVG_INVALID_ARGUMENT);
	}
	if (vm->state != VM_RUNNING && vm->state != VM_STOPPED &&
	    vm->state != VM_STARTING) {
		xasprintf(cause, "state: expected running, starting or "
		    "stopped");
		return (EVG_INVALID_ARGUMENT);
	}
	if (vm->cid != 0 && (vm->cid < CID_MIN || vm->cid > CID_MAX) &&
	    !(vm->cid == CID_LOOPBACK && registry_loopback)) {
		xasprintf(cause, "cid: %u is %s (guest CIDs are %u..%u)",
		    vm->cid, vm->cid < CID_MIN ? "reserved" : "out of range",
		    CID_MIN, CID_MAX);
		return (EVG_INVALID_ARGUMENT);
	}
	/* "_65535" is appended to the hybrid path to make the socket. */
	if (vm->hybrid != NULL &&
	    !registry_path_valid(vm->hybrid, UNIX_PATH_MAX - 1 - 6)) {
		xasprintf(cause, "hybrid_socket: '%s' is not an absolute path "
		    "of at most %zu bytes", vm->hybrid, UNIX_PATH_MAX - 1 - 6);
		return (EVG_INVALID_ARGUMENT);
	}
	if (vm->cid == 0 && vm->hybrid == NULL && vm->state != VM_STOPPED) {
		xasprintf(cause, "cid: a VM that is not stopped needs a vsock "
		    "CID or a hybrid socket");
		return (EVG_INVALID_ARGUMENT);
	}
	if (vm->qmp != NULL &&
	    !registry_path_valid(vm->qmp, UNIX_PATH_MAX - 1)) {
		xasprintf(cause, "qmp: '%s' is not an absolute socket path",
		    vm->qmp);
		return (EVG_INVALID_ARGUMENT);
	}
	if (vm->qmp_agent != NULL &&
	    !registry_path_valid(vm->qmp_agent, UNIX_PATH_MAX - 1)) {
		xasprintf(cause, "qmp_agent: '%s' is not an absolute socket "
		    "path", vm->qmp_agent);
		return (EVG_INVALID_ARGUMENT);
	}
	if (vm->qmp_agent != NULL && vm->qmp != NULL &&
	    strcmp(vm->qmp_agent, vm->qmp) == 0) {
		xasprintf(cause, "qmp_agent: '%s' is the qmp socket itself; "
		    "the agent's monitor must be a second one", vm->qmp_agent);
		return (EVG_INVALID_ARGUMENT);
	}
	if (vm->nvolumes > REGISTRY_MAX_VOLUMES) {
		xasprintf(cause, "volume: %zu volumes (at most %d)",
		    vm->nvolumes, REGISTRY_MAX_VOLUMES);
		return (EVG_INVALID_ARGUMENT);
	}
	for (i = 0; i < vm->nvolumes; i++) {
		if ((rc = registry_check_volume(&vm->volumes[i], i, cause)) !=
		    EVG_OK)
			return (rc);
		for (j = 0; j < i; j++) {
			if (strcasecmp(vm->volumes[i].uuid,
			    vm->volumes[j].uuid) == 0) {
				xasprintf(cause, "volume[%zu].uuid: %s is "
				    "given twice", i, vm->volumes[i].uuid);
				return (EVG_INVALID_ARGUMENT);
			}
		}
	}
	return (EVG_OK);
}

/* Find a VM by UUID (case-insensitive), through the index. */
struct reg_vm *
registry_find(struct registry *reg, const char *uuid)
{
	return (uuidx_get(&reg->byuuid, uuid));
}

/* Append vm to the list and the index. */
static void
registry_link(struct registry *reg, struct reg_vm *vm)
{
	TAILQ_INSERT_TAIL(&reg->vms, vm, entry);
	uuidx_put(&reg->byuuid, vm->uuid, vm);
	reg->count++;
}

/* Take vm off the list and the index (not freed). */
static void
registry_unlink(struct registry *reg, struct reg_vm *vm)
{
	TAILQ_REMOVE(&reg->vms, vm, entry);
	uuidx_del(&reg->byuuid, vm->uuid);
	reg->count--;
}

/* Find a VM by its vsock CID. */
struct reg_vm *
registry_find_cid(struct registry *reg, unsigned int cid)
{
	struct reg_vm	*vm;

	if (cid == 0)
		return (NULL);
	TAILQ_FOREACH(vm, &reg->vms, entry)
		if (vm->cid == cid)
			return (vm);
	return (NULL);
}

/*
 * Look for a record (but skip) clashing with vm; code with *cause.  With
 * stale set, a stopped VM's CID is no clash: EVE hands CIDs out afresh at
 * every start (its counter is not stored), so a stopped VM's is stale;
 * *stale is then that VM, whose CID the caller passes on to vm.
 */
static int
registry_conflict(struct registry *reg, const struct reg_vm *vm,
    const struct reg_vm *skip, struct reg_vm **stale, char **cause)
{
	struct reg_vm	*o;
	size_t		 i, j;

	if (stale != NULL)
		*stale = NULL;
	TAILQ_FOREACH(o, &reg->vms, entry) {
		if (o == skip)
			continue;
		if (strcasecmp(o->uuid, vm->uuid) == 0) {
			xasprintf(cause, "uuid: VM %s is already registered",
			    vm->uuid);
			return (EVG_ALREADY_EXISTS);
		}
		if (vm->cid != 0 && o->cid == vm->cid && stale != NULL &&
		    o->state == VM_STOPPED)
			*stale = o;
		else if (vm->cid != 0 && o->cid == vm->cid) {
			xasprintf(cause, "cid: CID %u already belongs to VM %s "
			    "(%s), which is %s", vm->cid, o->uuid, o->name,
			    vm_state_name(o->state));
			return (EVG_ALREADY_EXISTS);
		}
		if (vm->hybrid != NULL && o->hybrid != NULL &&
		    strcmp(vm->hybrid, o->hybrid) == 0) {
			xasprintf(cause, "hybrid_socket: %s already belongs to "
			    "VM %s (%s)", vm->hybrid, o->uuid, o->name);
			return (EVG_ALREADY_EXISTS);
		}
		for (i = 0; i < vm->nvolumes; i++)
			for (j = 0; j < o->nvolumes; j++)
				if (strcasecmp(vm->volumes[i].uuid,
				    o->volumes[j].uuid) == 0) {
					xasprintf(cause, "volume[%zu].uuid: "
					    "volume %s already belongs to VM %s",
					    i, vm->volumes[i].uuid, o->uuid);
					return (EVG_ALREADY_EXISTS);
				}
	}
	return (EVG_OK);
}

/*
 * One identifier a registered VM holds, for registry_conflicts(): kind
 * 'u' (UUID), 'c' (CID), 'h' (hybrid socket) or 'v' (a volume's UUID).
 */
struct reg_key {
	char			*key;		/* kind, ':', the identifier */
	const struct reg_vm	*vm;
	size_t			 vol;		/* 'v': which volume */
};

/*
 * Enter key for vm into the table; the VM holding it already (NULL if
 * none).  UUIDs are folded to lower case: they compare case-insensitively.
 */
static const struct reg_key *
registry_key(struct reg_key *t, size_t mask, char kind, const char *id,
    const struct reg_vm *vm, size_t vol)
{
	char	*key;
	size_t	 h, i;

	xasprintf(&key, "%c:%s", kind, id);
	if (kind == 'u' || kind == 'v')
		for (i = 2; key[i] != '\0'; i++)
			key[i] = (char)tolower((unsigned char)key[i]);
	for (h = strhash(key, 0) & mask; t[h].key != NULL; h = (h + 1) & mask)
		if (strcmp(t[h].key, key) == 0) {
			free(key);
			return (&t[h]);
		}
	t[h].key = key;
	t[h].vm = vm;
	t[h].vol = vol;
	return (NULL);
}

/*
 * Every record against every other at once, as registry_conflict() does
 * for one (without stale CIDs): hashed, so a registry of thousands loads
 * in linear time.  EVG_OK, or the code with *bad the later of the two
 * records and *cause (registry_conflict()'s words).
 */
static int
registry_conflicts(struct registry *reg, const struct reg_vm **bad,
    char **cause)
{
	struct reg_key		*t;
	const struct reg_key	*o;
	const struct reg_vm	*vm;
	char			 cid[16];
	size_t			 mask, n = 0, i;
	int			 rc = EVG_OK;

	TAILQ_FOREACH(vm, &reg->vms, entry)
		n += 3 + vm->nvolumes;
	mask = strhash_mask(n);
	t = xcalloc(mask + 1, sizeof *t);
	TAILQ_FOREACH(vm, &reg->vms, entry) {
		*bad = vm;
		if ((o = registry_key(t, mask, 'u', vm->uuid, vm, 0)) != NULL) {
			xasprintf(cause, "uuid: VM %s is already registered",
			    vm->uuid);
			rc = EVG_ALREADY_EXISTS;
			break;
		}
		snprintf(cid, sizeof cid, "%u", vm->cid);
		if (vm->cid != 0 && (o = registry_key(t, mask, 'c', cid, vm,
		    0)) != NULL) {
			xasprintf(cause, "cid: CID %u already belongs to VM %s "
			    "(%s), which is %s", vm->cid, o->vm->uuid,
			    o->vm->name, vm_state_name(o->vm->state));
			rc = EVG_ALREADY_EXISTS;
			break;
		}
		if (vm->hybrid != NULL && (o = registry_key(t, mask, 'h',
		    vm->hybrid, vm, 0)) != NULL) {
			xasprintf(cause, "hybrid_socket: %s already belongs to "
			    "VM %s (%s)", vm->hybrid, o->vm->uuid, o->vm->name);
			rc = EVG_ALREADY_EXISTS;
			break;
		}
		for (i = 0; i < vm->nvolumes; i++) {
			o = registry_key(t, mask, 'v', vm->volumes[i].uuid, vm,
			    i);
			/* Twice in one VM is registry_check()'s to refuse. */
			if (o != NULL && o->vm != vm) {
				xasprintf(cause, "volume[%zu].uuid: volume %s "
				    "already belongs to VM %s", i,
				    vm->volumes[i].uuid, o->vm->uuid);
				rc = EVG_ALREADY_EXISTS;
				break;
			}
		}
		if (rc != EVG_OK)
			break;
	}
	for (i = 0; i <= mask; i++)
		free(t[i].key);
	free(t);
	return (rc);
}

/* A stopped VM's stale CID goes to vm (not yet persisted). */
static void
registry_take_cid(struct reg_vm *stale)
{
	if (stale != NULL)
		stale->cid = 0;
}

/* Say so once a CID passed on is persisted. */
static void
registry_took_cid(const struct reg_vm *stale, const struct reg_vm *vm)
{
	if (stale != NULL)
		log_info("cid: CID %u passes from stopped VM %s (%s) to VM %s "
		    "(%s); %s gets a new one at its next start", vm->cid,
		    stale->uuid, stale->name, vm->uuid, vm->name, stale->uuid);
}

/* Add and persist; see registry.h. */
int
registry_add(struct registry *reg, struct reg_vm *vm, char **cause)
{
	struct reg_vm	*stale;
	int		 rc;

	if ((rc = registry_check(vm, cause)) != EVG_OK)
		return (rc);
	if ((rc = registry_conflict(reg, vm, NULL, &stale, cause)) != EVG_OK)
		return (rc);
	if (reg->count >= REGISTRY_MAX_VMS) {
		xasprintf(cause, "registry is full (%d VMs)",
		    REGISTRY_MAX_VMS);
		return (EVG_NO_SPACE);
	}
	registry_link(reg, vm);
	registry_take_cid(stale);
	if (registry_persist(reg, vm, stale, NULL, cause) != 0) {
		rc = status_of_write_error(errno);
		registry_unlink(reg, vm);
		if (stale != NULL)
			stale->cid = vm->cid;
		return (rc);
	}
	registry_took_cid(stale, vm);
	return (EVG_OK);
}

/* Swap what registry_update() replaces between two records. */
static void
registry_swap(struct reg_vm *a, struct reg_vm *b)
{
	struct reg_vm	t;

	t = *a;
	a->name = b->name;
	a->cid = b->cid;
	a->hybrid = b->hybrid;
	a->qmp = b->qmp;
	a->qmp_agent = b->qmp_agent;
	a->snapshot_budget = b->snapshot_budget;
	a->volumes = b->volumes;
	a->nvolumes = b->nvolumes;
	b->name = t.name;
	b->cid = t.cid;
	b->hybrid = t.hybrid;
	b->qmp = t.qmp;
	b->qmp_agent = t.qmp_agent;
	b->snapshot_budget = t.snapshot_budget;
	b->volumes = t.volumes;
	b->nvolumes = t.nvolumes;
}

/* Change a record in place and persist; see registry.h. */
int
registry_update(struct registry *reg, struct reg_vm *vm, struct reg_vm *next,
    char **cause)
{
	struct reg_vm	*stale;
	int		 rc;

	memcpy(next->uuid, vm->uuid, sizeof next->uuid);
	next->state = vm->state;
	if ((rc = registry_check(next, cause)) != EVG_OK)
		return (rc);
	if ((rc = registry_conflict(reg, next, vm, &stale, cause)) != EVG_OK)
		return (rc);
	registry_swap(vm, next);
	registry_take_cid(stale);
	if (registry_persist(reg, vm, stale, NULL, cause) != 0) {
		rc = status_of_write_error(errno);
		registry_swap(vm, next);
		if (stale != NULL)
			stale->cid = next->cid;
		return (rc);
	}
	registry_took_cid(stale, vm);
	reg_vm_free(next);
	return (EVG_OK);
}

/* Unlink and persist; on failure the record stays. */
int
registry_remove(struct registry *reg, struct reg_vm *vm, char **cause)
{
	int	rc;

	registry_unlink(reg, vm);
	if (registry_persist(reg, NULL, NULL, vm->uuid, cause) != 0) {
		rc = status_of_write_error(errno);
		registry_link(reg, vm);
		return (rc);
	}
	return (EVG_OK);
}

/* Change a run state and persist; on failure the old state stays. */
int
registry_set_state(struct registry *reg, struct reg_vm *vm,
    enum vm_state state, char **cause)
{
	enum vm_state	old = vm->state;

	if (state != VM_STOPPED && vm->cid == 0 && vm->hybrid == NULL) {
		xasprintf(cause, "VM %s (%s) has no vsock CID (a stopped VM's "
		    "passes to the VM that is given it): set its new one with "
		    "vm update --cid before it starts", vm->uuid, vm->name);
		return (EVG_FAILED_PRECONDITION);
	}
	vm->state = state;
	if (registry_persist(reg, vm, NULL, NULL, cause) != 0) {
		vm->state = old;
		return (status_of_write_error(errno));
	}
	return (EVG_OK);
}

/* Add a string member unless it is NULL. */
static void
registry_json_str(json_object *o, const char *key, const char *value)
{
	if (value != NULL)
		json_object_object_add(o, key, json_object_new_string(value));
}

/* One volume as JSON. */
static json_object *
registry_volume_json(const struct reg_volume *vol)
{
	json_object	*o, *disks, *d;
	size_t		 i;

	o = json_object_new_object();
	registry_json_str(o, "uuid", vol->uuid);
	registry_json_str(o, "name", vol->name);
	registry_json_str(o, "backend", vol->backend);
	registry_json_str(o, "locator", vol->locator);
	registry_json_str(o, "node", vol->node);
	disks = json_object_new_array();
	for (i = 0; i < vol->ndisks; i++) {
		d = json_object_new_object();
		registry_json_str(d, "kind", vol->disks[i].kind);
		registry_json_str(d, "value", vol->disks[i].value);
		json_object_array_add(disks, d);
	}
	json_object_object_add(o, "disks", disks);
	return (o);
}

/* One record as JSON (the file's and the journal's). */
static json_object *
registry_vm_json(const struct reg_vm *vm)
{
	json_object	*o, *vols;
	size_t		 i;

	o = json_object_new_object();
	registry_json_str(o, "uuid", vm->uuid);
	registry_json_str(o, "name", vm->name);
	json_object_object_add(o, "cid", json_object_new_int64(vm->cid));
	registry_json_str(o, "hybrid_socket", vm->hybrid);
	registry_json_str(o, "qmp", vm->qmp);
	registry_json_str(o, "qmp_agent", vm->qmp_agent);
	if (vm->snapshot_budget != 0)
		json_object_object_add(o, "snapshot_budget",
		    json_object_new_uint64(vm->snapshot_budget));
	registry_json_str(o, "state", vm_state_name(vm->state));
	vols = json_object_new_array();
	for (i = 0; i < vm->nvolumes; i++)
		json_object_array_add(vols,
		    registry_volume_json(&vm->volumes[i]));
	json_object_object_add(o, "volumes", vols);
	return (o);
}

/* The registry as the JSON text of its file; see registry.h. */
char *
registry_text(struct registry *reg)
{
	json_object	*root, *vms;
	struct reg_vm	*vm;
	char		*text;

	root = json_object_new_object();
	json_object_object_add(root, "format",
	    json_object_new_int(REGISTRY_FORMAT));
	vms = json_object_new_array();
	TAILQ_FOREACH(vm, &reg->vms, entry)
		json_object_array_add(vms, registry_vm_json(vm));
	json_object_object_add(root, "vms", vms);
	text = xstrdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return (text);
}

/* Write the registry file atomically, whole; empty the journal. */
static int
registry_save(struct registry *reg, char **cause)
{
	char	*text;
	int	 rc;

	if (reg->path == NULL)
		return (0);
	text = registry_text(reg);
	rc = atomicfile_write(reg->path, text, strlen(text), 0600, cause);
	free(text);
	if (rc == 0)
		regjournal_reset(&reg->journal, reg->path);
	return (rc);
}

/*
 * Persist a change: the records a and b (either may be NULL) as they are
 * now, or the removal of record del (NULL: none), as one journal line;
 * then, when the journal is long enough, the whole file.  0, or -1 with
 * errno and *cause.
 */
static int
registry_persist(struct registry *reg, const struct reg_vm *a,
    const struct reg_vm *b, const char *del, char **cause)
{
	json_object	*o, *puts;
	char		*line, *why;
	int		 rc;

	if (reg->path == NULL)
		return (0);
	o = json_object_new_object();
	if (del != NULL)
		json_object_object_add(o, "del", json_object_new_string(del));
	else {
		/* Both in one line: they change together or not at all. */
		puts = json_object_new_array();
		if (a != NULL)
			json_object_array_add(puts, registry_vm_json(a));
		if (b != NULL)
			json_object_array_add(puts, registry_vm_json(b));
		json_object_object_add(o, "put", puts);
	}
	xasprintf(&line, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	rc = regjournal_append(&reg->journal, reg->path, line, cause);
	free(line);
	/*
	 * Long enough: the whole file, once the change is in the journal
	 * (so the journal's last word on every VM is the file's).  A failed
	 * rewrite loses nothing: the journal is replayed at the next start.
	 */
	if (rc == 0 && reg->journal.lines >= REGISTRY_JOURNAL_MIN &&
	    reg->journal.lines >= reg->count && registry_save(reg, &why) != 0) {
		log_warnx("registry: %s (the journal keeps the change)", why);
		free(why);
	}
	return (rc);
}

/* String member or NULL; *bad set when present but not a string. */
static char *
registry_json_get(json_object *o, const char *key, int *bad)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v,
	    json_type_null))
		return (NULL);
	if (!json_object_is_type(v, json_type_string)) {
		*bad = 1;
		return (NULL);
	}
	return (xstrdup(json_object_get_string(v)));
}

/* Copy a UUID string member into a fixed buffer. */
static void
registry_json_uuid(json_object *o, char *out, int *bad)
{
	char	*s;

	s = registry_json_get(o, "uuid", bad);
	if (s != NULL && strlen(s) <= UUID_STR_LEN)
		strcpy(out, s);
	else
		*bad = 1;
	free(s);
}

/* Build a volume from JSON; *bad on a wrongly typed member. */
static void
registry_volume_from_json(json_object *o, struct reg_volume *vol, int *bad)
{
	json_object	*disks, *d;
	size_t		 i, n;

	registry_json_uuid(o, vol->uuid, bad);
	vol->name = registry_json_get(o, "name", bad);
	vol->backend = registry_json_get(o, "backend", bad);
	vol->locator = registry_json_get(o, "locator", bad);
	vol->node = registry_json_get(o, "node", bad);
	if (!json_object_object_get_ex(o, "disks", &disks) ||
	    !json_object_is_type(disks, json_type_array)) {
		*bad = 1;
		return;
	}
	n = json_object_array_length(disks);
	if (n > REGISTRY_MAX_DISKS) {
		*bad = 1;
		return;
	}
	vol->disks = xcalloc(n, sizeof *vol->disks);
	vol->ndisks = n;
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(disks, i);
		vol->disks[i].kind = registry_json_get(d, "kind", bad);
		vol->disks[i].value = registry_json_get(d, "value", bad);
	}
}

/* Build a VM record from JSON; NULL with *cause. */
static struct reg_vm *
registry_vm_from_json(json_object *o, size_t idx, char **cause)
{
	struct reg_vm	*vm;
	json_object	*v, *vols;
	char		*state, *why;
	int		 bad = 0;
	size_t		 i, n;
	int64_t		 cid;

	vm = xcalloc(1, sizeof *vm);
	if (!json_object_is_type(o, json_type_object)) {
		bad = 1;
		goto fail;
	}
	registry_json_uuid(o, vm->uuid, &bad);
	vm->name = registry_json_get(o, "name", &bad);
	vm->hybrid = registry_json_get(o, "hybrid_socket", &bad);
	vm->qmp = registry_json_get(o, "qmp", &bad);
	vm->qmp_agent = registry_json_get(o, "qmp_agent", &bad);
	if (json_object_object_get_ex(o, "snapshot_budget", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0)
			bad = 1;
		else
			vm->snapshot_budget = json_object_get_uint64(v);
	}
	if (json_object_object_get_ex(o, "cid", &v)) {
		cid = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || cid < 0 ||
		    cid > CID_MAX)
			bad = 1;
		else
			vm->cid = (unsigned int)cid;
	}
	state = registry_json_get(o, "state", &bad);
	if (vm_state_parse(state, &vm->state) != 0)
		bad = 1;
	free(state);
	if (json_object_object_get_ex(o, "volumes", &vols)) {
		if (!json_object_is_type(vols, json_type_array) ||
		    (n = json_object_array_length(vols)) >
		    REGISTRY_MAX_VOLUMES) {
			bad = 1;
			goto fail;
		}
		vm->volumes = xcalloc(n, sizeof *vm->volumes);
		vm->nvolumes = n;
		for (i = 0; i < n; i++)
			registry_volume_from_json(json_object_array_get_idx(
			    vols, i), &vm->volumes[i], &bad);
	}
fail:
	if (bad) {
		xasprintf(cause, "vms[%zu]: malformed record", idx);
		reg_vm_free(vm);
		return (NULL);
	}
	if (registry_check(vm, &why) != EVG_OK) {
		xasprintf(cause, "vms[%zu]: %s", idx, why);
		free(why);
		reg_vm_free(vm);
		return (NULL);
	}
	return (vm);
}

/* Journal replay: records put (added, or replacing theirs). */
static void
registry_replay_put(json_object *v, void *arg, char **cause)
{
	struct registry	*reg = arg;
	struct reg_vm	*vm, *old;
	size_t		 i, n;

	if (!json_object_is_type(v, json_type_array)) {
		*cause = xstrdup("put: not a list of records");
		return;
	}
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		vm = registry_vm_from_json(json_object_array_get_idx(v, i), i,
		    cause);
		if (vm == NULL)
			return;
		if ((old = registry_find(reg, vm->uuid)) != NULL) {
			TAILQ_INSERT_AFTER(&reg->vms, old, vm, entry);
			TAILQ_REMOVE(&reg->vms, old, entry);
			uuidx_put(&reg->byuuid, vm->uuid, vm);
			reg_vm_free(old);
		} else
			registry_link(reg, vm);
	}
}

/* Journal replay: a record removed. */
static void
registry_replay_del(const char *uuid, void *arg)
{
	struct registry	*reg = arg;
	struct reg_vm	*vm;

	if ((vm = registry_find(reg, uuid)) == NULL)
		return;
	registry_unlink(reg, vm);
	reg_vm_free(vm);
}

/* Empty the registry (a load failed). */
static void
registry_clear(struct registry *reg)
{
	struct reg_vm	*vm;

	while ((vm = TAILQ_FIRST(&reg->vms)) != NULL) {
		TAILQ_REMOVE(&reg->vms, vm, entry);
		reg_vm_free(vm);
	}
	uuidx_clear(&reg->byuuid);
	reg->count = 0;
}

/* Load the registry file and replay its journal; see registry.h. */
int
registry_load(struct registry *reg, char **cause)
{
	const struct reg_vm	*bad;
	char			*text, *why;
	size_t			 len;
	int			 rc;

	if (reg->path == NULL)
		return (0);
	if ((text = atomicfile_read(reg->path, REGISTRY_FILE_MAX, &len,
	    cause)) == NULL && *cause != NULL)
		return (-1);
	rc = text == NULL ? 0 : registry_load_buf(reg, text, len, reg->path,
	    cause);
	free(text);
	if (rc != 0)
		return (rc);
	reg->journal.lines = 0;
	if (regjournal_replay(&reg->journal, reg->path, registry_replay_put,
	    registry_replay_del, reg, cause) != 0) {
		registry_clear(reg);
		return (-1);
	}
	if (reg->journal.lines == 0)
		return (0);
	/* The journal's records checked against each other as the file's. */
	if (registry_conflicts(reg, &bad, &why) != EVG_OK) {
		xasprintf(cause, "%s.journal, replayed: VM %s: %s", reg->path,
		    bad->uuid, why);
		free(why);
		registry_clear(reg);
		return (-1);
	}
	if (reg->count > REGISTRY_MAX_VMS) {
		xasprintf(cause, "%s.journal, replayed: %zu VMs, more than %d",
		    reg->path, reg->count, REGISTRY_MAX_VMS);
		registry_clear(reg);
		return (-1);
	}
	log_info("registry: %zu changes replayed from %s.journal",
	    reg->journal.lines, reg->path);
	if (registry_save(reg, &why) != 0) {
		/* The journal stays: replayed again next time. */
		log_warnx("registry: %s", why);
		free(why);
	}
	return (0);
}

/* Load records from registry file text; see registry.h. */
int
registry_load_buf(struct registry *reg, const char *text, size_t len,
    const char *name, char **cause)
{
	json_object		*root = NULL, *vms;
	json_tokener		*tok;
	struct reg_vm		*vm;
	const struct reg_vm	*bad;
	char			*why;
	size_t			 i, n;

	tok = json_tokener_new();
	root = len > REGISTRY_FILE_MAX ? NULL :
	    json_tokener_parse_ex(tok, text, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success
	    || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "vms", &vms) ||
	    !json_object_is_type(vms, json_type_array)) {
		xasprintf(cause, "%s: not a registry file (bad JSON)", name);
		goto fail;
	}
	n = json_object_array_length(vms);
	for (i = 0; i < n; i++) {
		vm = registry_vm_from_json(json_object_array_get_idx(vms, i), i,
		    &why);
		if (vm == NULL) {
			xasprintf(cause, "%s: %s", name, why);
			free(why);
			goto fail;
		}
		registry_link(reg, vm);
	}
	if (registry_conflicts(reg, &bad, &why) != EVG_OK) {
		i = 0;
		TAILQ_FOREACH(vm, &reg->vms, entry) {
			if (vm == bad)
				break;
			i++;
		}
		xasprintf(cause, "%s: vms[%zu]: %s", name, i, why);
		free(why);
		goto fail;
	}
	json_tokener_free(tok);
	json_object_put(root);
	return (0);
fail:
	registry_clear(reg);
	json_tokener_free(tok);
	json_object_put(root);
	return (-1);
}
