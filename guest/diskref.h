/*
 * Disks on the wire: the DiskRef a guest request carries for each of its
 * disks (device path plus identifiers), and the way back from a DiskRef or
 * a snapshot's identifiers to the guest's own disks.
 *
 * Ownership: diskref_build() returns an array the caller frees with
 * diskref_free(); its strings point into the disks given, which must
 * outlive it.  Every char **cause set here is the caller's to free.
 */
#ifndef EVG_DISKREF_H
#define EVG_DISKREF_H

#include <stddef.h>

#include "disk.h"
#include "evg.pb-c.h"

/* One DiskRef per disk: its device path and every identifier it has. */
Evg__DiskRef	**diskref_build(const struct disk *, size_t);
/* Free an array from diskref_build(); NULL is fine. */
void		  diskref_free(Evg__DiskRef **, size_t);
/*
 * Copy wire identifiers into ids[DISK_MAX_IDS], leaving out any that
 * cannot be a disk's (kind or value too long).  Returns how many.
 */
size_t		  diskref_ids(Evg__DiskId *const *, size_t,
		      struct disk_id *);
/*
 * The guest's device path ("/dev/sdc") for wire identifiers, written into
 * buf (len bytes).  Returns buf, or NULL when no disk here has them.
 */
const char	 *diskref_find(Evg__DiskId *const *, size_t, char *, size_t);
/*
 * "KIND:VALUE" of the first identifier of a reference (escaped: it came
 * from the other side), or its device, for messages.  Returns buf.
 */
const char	 *diskref_name(const Evg__DiskRef *, char *, size_t);
/*
 * The local whole disks a reference names.  Its device is trusted only if
 * it resolves to a disk whose identifiers match the reference's (sharing
 * one, contradicting none, as disk_find_by_ids() judges); otherwise the
 * disk is looked up by identifiers alone.  Returns 0 with *disks (caller
 * frees with disk_free()) and *n, or a status code with *cause:
 * INVALID_ARGUMENT for a reference without identifiers, NOT_FOUND for a
 * disk not attached here.
 */
int		  diskref_resolve(const Evg__DiskRef *, struct disk **,
		      size_t *, char **);
/*
 * diskref_resolve(), trying first disks the caller resolved a moment ago
 * (known, n of them; NULL is fine): one whose device path is the
 * reference's device and whose identifiers match it (disk_match()) is
 * taken as it is, without reading sysfs again, just as diskref_resolve()
 * would find it there.  Otherwise as diskref_resolve().
 */
int		  diskref_resolve_known(const Evg__DiskRef *,
		      const struct disk *, size_t, struct disk **, size_t *,
		      char **);

#endif
