/*
 * Guest facts for the host and for `eve-guest-agent info`: the agent's
 * version, the OS release, kernel, hostname, uptime, filesystems with
 * their usage and disks with the identifiers the host maps to volumes.
 *
 * Sources, each under a root set by info_set_root() ("" by default: the
 * real files):
 *	os		PRETTY_NAME of etc/os-release, else usr/lib/os-release
 *			(else NAME and VERSION; "Linux" in a file with none)
 *	uptime		proc/uptime
 *	filesystems	proc/self/mountinfo; usage from statvfs() of root +
 *			mount point
 *	disks		sys/block; identifiers from disk_resolve() on
 *			root + /dev/NAME (disk.c reads sysfs under its own
 *			root, set with disk_set_root())
 * The kernel and hostname come from uname() whatever the root.
 *
 * Filesystems: pseudo filesystems (proc, sysfs, cgroup, tmpfs and the
 * like) are left out, and so is a mount showing the same subtree of the
 * same filesystem as one listed before it.  statvfs() is never called on
 * a filesystem that could block on a server or a userspace daemon (NFS,
 * CIFS, 9p, virtiofs, FUSE...) nor on a mount point below one: those are
 * listed without usage.
 *
 * Disks: every entry of sys/block except ram*, zram* and loop devices with
 * no backing file.  A whole disk carries its own identifiers; a stacked
 * device (device-mapper, md) lists the whole disks under it instead.
 *
 * Nothing read here is trusted to be well-formed: a missing or unreadable
 * source leaves its fields unknown and adds a line to errors, and
 * info_collect() still succeeds.  Reads are bounded in size; files that
 * are not regular (a FIFO in place of os-release) are refused rather than
 * waited on.
 *
 * Ownership: info_collect() gives the caller a guest_info it frees with
 * info_free(); every string and array in it belongs to it.  info_json()
 * returns a new reference the caller releases with json_object_put().
 * Not thread-safe: the root is process-wide.
 */
#ifndef EVG_INFO_H
#define EVG_INFO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "disk.h"
#include "evg.pb-c.h"

struct json_object;

/* Most filesystems and disks listed; more are dropped with an error. */
#define INFO_MAX_FS		1024
#define INFO_MAX_DISKS		1024
/* Largest os-release or proc/uptime read. */
#define INFO_READ_MAX		65536

struct info_fs {
	char		*mountpoint;
	char		*fstype;
	char		*source;
	int		 has_usage;	/* 0: not asked (see above) or failed */
	uint64_t	 size_bytes;
	uint64_t	 used_bytes;
	uint64_t	 available_bytes;
};

struct info_disk {
	char		*device;	/* "/dev/vda" */
	const char	*type;		/* "disk", "loop", "device-mapper", "md" */
	char		*dm_name;	/* device-mapper name, else NULL */
	uint64_t	 size_bytes;
	struct disk_id	*ids;		/* a whole disk's identifiers */
	size_t		 nids;
	char		**under;	/* a stacked device's whole disks */
	size_t		 nunder;
	char		*error;		/* why they are unknown, else NULL */
};

struct guest_info {
	char		*agent_version;
	char		*os;		/* NULL: unknown */
	char		*kernel;	/* uname -r */
	char		*kernel_version; /* uname -v */
	char		*hostname;
	int		 has_uptime;
	uint64_t	 uptime_seconds;
	struct info_fs	*fs;
	size_t		 nfs;
	struct info_disk *disks;
	size_t		 ndisks;
	char		**errors;	/* what could not be read */
	size_t		 nerrors;
};

/*
 * The facts as the protocol's GuestInfo (for the host).  The message
 * borrows the strings of info, which must outlive it; free the message
 * with info_proto_free().
 */
Evg__GuestInfo	*info_to_proto(const struct guest_info *);
void		 info_proto_free(Evg__GuestInfo *);
/* Read every source under root (copied; NULL or "" for the real files). */
void		 info_set_root(const char *);
/*
 * Collect the facts.  Returns 0 with *out, or -1 with *cause (caller
 * frees) only if uname() fails; anything else missing is in errors.
 */
int		 info_collect(struct guest_info **, char **);
/* Free a guest_info; NULL is fine. */
void		 info_free(struct guest_info *);
/*
 * The parsers info_collect() feeds its sources to, for tests and fuzzing.
 * info_os_parse(): the OS from os-release text (modified in place):
 * PRETTY_NAME, else NAME and VERSION, NAME defaulting to "Linux" as
 * os-release(5) says; control characters become '?'.  Returns a new
 * string.  info_parse_mountinfo(): fill gi->fs (which must be empty) from
 * mountinfo text as described above, without usage; malformed lines go to
 * gi->errors, naming the file as name.
 */
char		*info_os_parse(char *);
void		 info_parse_mountinfo(struct guest_info *, const char *,
		    const char *);
/*
 * {"agent_version", "os", "kernel", "kernel_version", "hostname",
 * "uptime_seconds", "filesystems": [{"mountpoint", "fstype", "source",
 * "size_bytes", "used_bytes", "available_bytes"}], "disks": [{"device",
 * "type", "size_bytes", "ids": [{"kind", "value"}], "dm_name", "on",
 * "error"}], "errors"}.  Unknown values are null; "dm_name", "on" (a
 * stacked device's disks), "error" and "errors" appear only when set.
 */
struct json_object *info_json(const struct guest_info *);
/* Print for people: facts, then aligned filesystem and disk tables. */
void		 info_print(FILE *, const struct guest_info *);

#endif
