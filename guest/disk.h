/*
 * Guest disks: from a device path the guest names (/dev/sdc1, /dev/dm-0,
 * /dev/disk/by-id/...) to the whole disk(s) under it and the identifiers
 * the guest kernel exposes for each, and back from identifiers to the
 * guest's own device name.  Everything is read from sysfs; nothing here
 * opens a disk, talks to the host or freezes anything.
 *
 * Every sysfs path is taken under a root set by disk_set_root() ("" by
 * default: the real /sys), so tests can build a fake tree.  Device paths
 * passed in are used as given; device paths handed out are the guest's
 * names ("/dev/sdc"), never under the root.
 *
 * Not thread-safe: the root is process-wide.
 */
#ifndef EVG_DISK_H
#define EVG_DISK_H

#include <stddef.h>

/* Identifier kinds, as sent to the host. */
#define DISK_ID_SERIAL	"serial"	/* virtio-blk, NVMe, SCSI VPD 0x80 */
#define DISK_ID_WWN	"wwn"		/* SCSI or NVMe wwid, as printed */
#define DISK_ID_PCI	"pci"		/* DDDD:BB:SS.F, the disk's function */
#define DISK_ID_PCIPATH	"pcipath"	/* SS.F/SS.F...: its place, no buses */
#define DISK_ID_BACKING	"backing"	/* a loop device's backing file */

#define DISK_MAX_IDS	8
/* How many slaves/partition links a resolution follows before giving up. */
#define DISK_MAX_DEPTH	8

struct disk_id {
	char	kind[16];
	char	value[256];
};

/*
 * One whole disk.  An identifier the kernel does not expose, or one too
 * long or holding control characters, is left out; a disk may have none
 * (nids 0) and the caller decides what that means.
 */
struct disk {
	char		name[64];	/* kernel name, "sdc" */
	char		devpath[128];	/* "/dev/sdc" */
	unsigned	maj, min;
	struct disk_id	ids[DISK_MAX_IDS];
	size_t		nids;
};

/* Read sysfs under root (copied; NULL or "" for the real /sys). */
void	disk_set_root(const char *);

/*
 * Resolve path (a block device node, symlinks followed) to the whole disks
 * under it: a partition to its disk, a device-mapper, LVM or md device to
 * every disk under its slaves, without duplicates, in a stable order.
 * Returns 0 with *disks (at least one; caller frees with disk_free) and *n,
 * or -1 with *disks NULL, *n 0 and *cause set (one line naming path;
 * caller frees).
 */
int	disk_resolve(const char *, struct disk **, size_t *, char **);
/* Free an array from disk_resolve; NULL is fine. */
void	disk_free(struct disk *, size_t);

/*
 * Find the guest disk (in sysfs block/) with the given identifiers and
 * write its device path into devpath (len bytes).  A disk is a candidate
 * if it shares an identifier (kind and value equal; wwn compared without
 * case) and contradicts none (a kind both have, with another value).  The
 * candidate sharing the most specific identifiers wins (anything over a
 * bare pci, which a SCSI HBA's disks all share); a tie goes to the first
 * by name.  Returns 0, or -1 if no disk matches or devpath is too short.
 */
int	disk_find_by_ids(const struct disk_id *, size_t, char *, size_t);
/*
 * Score a disk against identifiers by the rule above: 0 if they share none
 * or one contradicts, else higher the more specific the shared ones are.
 */
int	disk_match(const struct disk *, const struct disk_id *, size_t);

/*
 * True (1) if block device maj:min is one of disks, a partition of one,
 * or a device-mapper/LVM/md device stacked on one (through any depth of
 * slaves).  0 otherwise, including for a device sysfs does not know (the
 * anonymous device numbers of tmpfs, overlay or btrfs mounts).
 */
int	disk_holds_dev(const struct disk *, size_t, unsigned, unsigned);

/*
 * Every block device built on the whole disk d, as the guest's device
 * paths ("/dev/sdc1", "/dev/dm-0"): its partitions and, through any depth
 * up to DISK_MAX_DEPTH, the devices holding it or one of them
 * (device-mapper, LVM, md), each once, in a stable order.  What sysfs
 * does not show is left out.  Returns how many, with *paths (caller frees
 * with disk_paths_free(); NULL when none).
 */
size_t	disk_above(const struct disk *, char ***);
void	disk_paths_free(char **, size_t);

/*
 * The parsers of what is read from sysfs, for tests and fuzzing; each
 * takes the bytes of one file (or path) and does no I/O.
 */
/*
 * The serial in the len bytes of a SCSI unit serial number VPD page
 * (0x80) as the kernel caches it in vpd_pg80: byte 1 the page code, bytes
 * 2-3 the page length, the ASCII serial from byte 4, space padded.
 * Returns buf (size bytes, NUL-terminated, trimmed), or NULL if the page
 * is malformed, blank or its serial does not fit.
 */
char	*disk_parse_vpd80(const unsigned char *, size_t, char *, size_t);
/* The device number in a dev attribute ("8:32\n"); 0, or -1. */
int	disk_parse_dev(const char *, unsigned *, unsigned *);
/*
 * The last PCI function address (DDDD:BB:SS.F, a longer domain behind a
 * VMD controller) among the components of a resolved sysfs device path,
 * into buf (size bytes).  Returns buf, or NULL if there is none or it
 * does not fit.
 */
char	*disk_parse_pci(const char *, char *, size_t);
/*
 * The PCI path of a sysfs path: the slot.function of every PCI function
 * from the root bus down to the last one, joined by '/', bus numbers left
 * out ("04.0/00.0" for a disk behind the root port in slot 4), with the
 * domain in front ("0001:04.0/00.0") only when it is not 0000.  Bus
 * numbers change with firmware and kernel; slots and functions are what
 * the VM's configuration fixed.  Returns buf, or NULL when the path has
 * no PCI function or the result does not fit in size.
 */
char	*disk_parse_pcipath(const char *, char *, size_t);
/*
 * Add an identifier (copied) to d unless it holds control characters (the
 * value goes into log lines, terminal output and the host's registry),
 * does not fit in a disk_id or d already has DISK_MAX_IDS.
 */
void	disk_add_id(struct disk *, const char *, const char *);

#endif
