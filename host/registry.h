/*
 * The VM registry: what pillar (or eve-guest-hostctl) told the host about
 * each VM, kept in memory and persisted as JSON in the state directory
 * (written atomically, loaded at start).  The registry owns every vm,
 * volume and string in it; registry_remove() and registry_free() free them.
 * vm->rt is runtime state owned by server.c and never touched here.
 */
#ifndef EVG_REGISTRY_H
#define EVG_REGISTRY_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "regjournal.h"
#include "uuid.h"
#include "uuidx.h"

/*
 * Guest CIDs: 3 up to VMADDR_CID_ANY - 1.  EVE numbers them 4, 5, ... by a
 * counter bumped at every domain start and not stored, so a long-running
 * node passes 9000 (2..9000 is only the common case).
 */
#define CID_MIN			3U
#define CID_MAX			4294967294U
#define CID_LOOPBACK		1	/* VMADDR_CID_LOCAL: vsock_loopback */
/* Explicit and tested; hostd raises RLIMIT_NOFILE to fit it. */
#define REGISTRY_MAX_VMS	16384
#define REGISTRY_JOURNAL_MIN	1024
#define REGISTRY_MAX_VOLUMES	64
#define REGISTRY_MAX_DISKS	8
#define REGISTRY_PATH_MAX	4096
#define REGISTRY_FILE		"registry.json"

/*
 * What pillar last said about the VM's QEMU.  STARTING is the barrier
 * pillar calls before it starts QEMU: from then until STOPPED nothing
 * opens the images offline (as RUNNING, but QEMU may not answer yet).
 */
enum vm_state {
	VM_RUNNING,
	VM_STOPPED,
	VM_STARTING,
};

struct reg_disk {
	char		*kind;		/* serial, wwn, pci or backing */
	char		*value;
};

struct reg_volume {
	char		 uuid[UUID_STR_LEN + 1];
	char		*name;
	char		*backend;	/* a backend_kinds[] name */
	char		*locator;	/* image path or dataset */
	char		*node;		/* QMP block node, may be NULL */
	struct reg_disk	*disks;
	size_t		 ndisks;
};

struct vm_runtime;

struct reg_vm {
	char		 uuid[UUID_STR_LEN + 1];
	char		*name;
	unsigned int	 cid;		/* 0: none */
	char		*hybrid;	/* hybrid vsock base path, may be NULL */
	char		*qmp;		/* may be NULL */
	char		*qmp_agent;	/* our own monitor, may be NULL */
	uint64_t	 snapshot_budget;	/* bytes; 0: none */
	enum vm_state	 state;
	struct reg_volume *volumes;
	size_t		 nvolumes;
	struct vm_runtime *rt;		/* owned by server.c */
	TAILQ_ENTRY(reg_vm) entry;
};

TAILQ_HEAD(reg_vm_list, reg_vm);

/*
 * Persistence: the JSON file at path, plus its journal (regjournal.h) of
 * the changes since the file was last written whole; a change appends
 * one line, and the file is rewritten (the journal emptied) once the
 * journal holds as many lines as there are VMs, and at least
 * REGISTRY_JOURNAL_MIN.
 */
struct registry {
	char		*path;		/* JSON file; NULL: memory only */
	struct reg_vm_list vms;
	struct uuidx	 byuuid;	/* the same VMs by UUID */
	size_t		 count;
	struct regjournal journal;
};

struct registry	*registry_create(const char *);
void		 registry_free(struct registry *);
/*
 * Load the file (missing is fine: empty registry), then replay its
 * journal, and write it whole again if the journal held anything.  0 or
 * -1 + *cause (the registry emptied).
 */
int		 registry_load(struct registry *, char **);
/*
 * Load the records in len bytes of registry file text (what
 * registry_load() does once the file is read; name is the file's name for
 * *cause).  Every record is checked as registry_add() would.  Returns 0,
 * or -1 with *cause and the registry emptied.
 */
int		 registry_load_buf(struct registry *, const char *, size_t,
		    const char *, char **);
/* The file's JSON text for the records (caller frees). */
char		*registry_text(struct registry *);

/*
 * Check a record on its own: every field, naming the first bad one in
 * *cause ("volume[1].backend: unknown backend 'lvm' ...").  Returns a
 * status code (EVG_OK or EVG_INVALID_ARGUMENT).
 */
int		 registry_check(const struct reg_vm *, char **);
/*
 * Accept CID_LOOPBACK as a VM's CID in registry_check() (process-wide; off
 * by default).  For tests that run guest and host in one kernel, where
 * vsock_loopback reports every peer as CID 1; hostd sets it from the
 * allow_loopback_cid key.  Never on a real host: CID 1 is the host itself.
 */
void		 registry_allow_loopback(int);
/*
 * Add a record (the registry takes ownership on EVG_OK only) and persist.
 * Returns EVG_OK, EVG_INVALID_ARGUMENT, EVG_ALREADY_EXISTS (duplicate UUID,
 * CID, hybrid socket or volume UUID) or EVG_INTERNAL (not persisted; the
 * registry is unchanged) with *cause.
 *
 * CIDs: EVE gives a VM a new CID at every start and does not store them,
 * so a stopped VM's CID is stale.  A record given a CID a stopped VM
 * holds takes it (logged), and the stopped VM has none (0) until
 * registry_update() gives it a new one; registry_set_state() refuses to
 * leave `stopped` without a CID or hybrid socket.  A CID of a VM that is
 * not stopped is a clash.
 */
int		 registry_add(struct registry *, struct reg_vm *, char **);
/*
 * Replace what vm holds (name, CID, sockets, budget, volumes; not its
 * UUID, state or runtime) by next's, checked as registry_add() would
 * against every other record, and persist.  On EVG_OK the registry takes
 * next's fields and frees next and vm's old fields; otherwise nothing
 * changed and the caller still owns next.
 */
int		 registry_update(struct registry *, struct reg_vm *,
		    struct reg_vm *, char **);
/* A deep copy of a record, not in any registry (rt left NULL). */
struct reg_vm	*reg_vm_dup(const struct reg_vm *);
/* The QMP monitor the daemon uses: qmp_agent when set, else qmp. */
const char	*reg_vm_monitor(const struct reg_vm *);
/* Unlink a record and persist; the caller frees it with reg_vm_free(). */
int		 registry_remove(struct registry *, struct reg_vm *, char **);
/* Change the run state and persist. */
int		 registry_set_state(struct registry *, struct reg_vm *,
		    enum vm_state, char **);
struct reg_vm	*registry_find(struct registry *, const char *);
struct reg_vm	*registry_find_cid(struct registry *, unsigned int);

/*
 * True if s is an absolute path of at most max bytes without a newline:
 * the registry's rule for every path it keeps (sockets, backing files,
 * qcow2 images).
 */
int		 registry_path_valid(const char *, size_t);

void		 reg_vm_free(struct reg_vm *);
/* Free a record's volumes and leave it with none. */
void		 reg_vm_clear_volumes(struct reg_vm *);
const char	*vm_state_name(enum vm_state);
/* Parse "running"/"stopped"/"starting"; -1 if none. */
int		 vm_state_parse(const char *, enum vm_state *);

/* Slot.function pairs a pcipath disk identifier may chain. */
#define REGISTRY_PCIPATH_DEPTH	8
/*
 * Make a pcipath value canonical in place, as the guest derives it: hex
 * in lower case, the domain left out when it is 0000.
 */
void	registry_pcipath_canon(char *);

#endif
