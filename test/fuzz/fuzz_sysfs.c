/*
 * fuzz_sysfs: the guest's parsers of what it reads from sysfs to identify
 * disks (guest/disk.c): text attributes (serial, wwid, backing_file), the
 * SCSI unit serial number VPD page (vpd_pg80, binary), the dev attribute,
 * the PCI function in a resolved device path, and the filter every
 * identifier passes before it is used (disk_add_id()).
 *
 * Proves: whatever a (virtual) device reports, the guest reads an
 * identifier or none; it never crashes, overreads a page or lets an
 * identifier with control characters through to the host.
 *
 * Oracle: a text attribute comes back trimmed, non-empty and part of the
 * input; a VPD serial fits the buffer and comes from the page's payload;
 * a PCI address has the DDDD:BB:SS.F shape; every identifier added has no
 * control characters and fits, at most DISK_MAX_IDS of them.
 *
 * Input: byte 0 picks the parser (% 4), the rest is the file or path.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "fuzzutil.h"
#include "readfile.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Fail unless s has no white space at either end and is not empty. */
static void
check_trimmed(const char *s)
{
	size_t	len = strlen(s);

	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(!isspace((unsigned char)s[0]) &&
	    !isspace((unsigned char)s[len - 1]));
}

/* Fail unless s is DDDD:BB:SS.F (a domain of 4 or more hex digits). */
static void
check_pci(const char *s)
{
	size_t	len = strlen(s), dom = len - 8;
	size_t	i;

	FUZZ_CHECK(len >= 12);
	for (i = 0; i < dom; i++)
		FUZZ_CHECK(isxdigit((unsigned char)s[i]));
	FUZZ_CHECK(s[dom] == ':' && s[dom + 3] == ':' && s[dom + 6] == '.');
	FUZZ_CHECK(s[dom + 7] >= '0' && s[dom + 7] <= '7');
}

/* Fail unless every identifier of d is fit to use. */
static void
check_ids(const struct disk *d)
{
	const char	*p;
	size_t		 i;

	FUZZ_CHECK(d->nids <= DISK_MAX_IDS);
	for (i = 0; i < d->nids; i++) {
		FUZZ_CHECK(memchr(d->ids[i].value, '\0',
		    sizeof d->ids[i].value) != NULL);
		for (p = d->ids[i].value; *p != '\0'; p++)
			FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	}
}

/* libFuzzer entry point. */
/* s has the shape of a PCI path: [hex:]xx.f{/xx.f}, lower-case hex. */
static void
check_pcipath(const char *s)
{
	const char	*colon = strchr(s, ':');

	if (colon != NULL) {
		FUZZ_CHECK(colon - s >= 4 && strncmp(s, "0000:", 5) != 0);
		s = colon + 1;
	}
	for (;;) {
		FUZZ_CHECK((isdigit((unsigned char)s[0]) ||
		    (s[0] >= 'a' && s[0] <= 'f')) &&
		    (isdigit((unsigned char)s[1]) ||
		    (s[1] >= 'a' && s[1] <= 'f')) && s[2] == '.' &&
		    s[3] >= '0' && s[3] <= '7');
		s += 4;
		if (*s == '\0')
			break;
		FUZZ_CHECK(*s++ == '/');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct disk	 d;
	char			*text, *copy, buf[512], *s;
	unsigned		 maj, min;
	size_t			 i;

	if (size == 0)
		return (0);
	memset(&d, 0, sizeof d);
	text = fuzz_cstr(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		copy = xstrdup(text);
		if ((s = readfile_trim(copy)) != NULL) {
			check_trimmed(s);
			FUZZ_CHECK(strstr(text, s) != NULL);
			disk_add_id(&d, DISK_ID_SERIAL, s);
		}
		free(copy);
		break;
	case 1:
		/* As read: at most 259 bytes into a 260-byte buffer. */
		if (size - 1 >= 4 + 256)
			break;
		if ((s = disk_parse_vpd80(data + 1, size - 1, buf,
		    sizeof buf)) != NULL) {
			check_trimmed(s);
			FUZZ_CHECK(strlen(s) < sizeof buf &&
			    strlen(s) <= size - 1 - 4);
			FUZZ_CHECK(memmem(data + 5, size - 5, s, strlen(s)) !=
			    NULL);
			disk_add_id(&d, DISK_ID_SERIAL, s);
		}
		break;
	case 2:
		(void)disk_parse_dev(text, &maj, &min);
		break;
	case 3:
		if ((s = disk_parse_pci(text, buf, 13)) != NULL)
			FUZZ_CHECK(strlen(s) <= 12);
		if ((s = disk_parse_pci(text, buf, sizeof buf)) != NULL) {
			check_pci(s);
			FUZZ_CHECK(strstr(text, s) != NULL);
			disk_add_id(&d, DISK_ID_PCI, s);
		}
		/* A PCI path is [domain:]SS.F[/SS.F...], cut never. */
		if ((s = disk_parse_pcipath(text, buf, sizeof buf)) != NULL) {
			check_pcipath(s);
			disk_add_id(&d, DISK_ID_PCIPATH, s);
		}
		FUZZ_CHECK(disk_parse_pcipath(text, buf, 4) == NULL);
		break;
	}
	/* Whatever was read, added again and again, stays within bounds. */
	for (i = 0; d.nids != 0 && i <= DISK_MAX_IDS; i++)
		disk_add_id(&d, DISK_ID_WWN, d.ids[0].value);
	disk_add_id(&d, DISK_ID_BACKING, text);
	check_ids(&d);
	free(text);
	return (0);
}
