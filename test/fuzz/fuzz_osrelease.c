/*
 * fuzz_osrelease: the guest's os-release parser (guest/info.c,
 * info_os_parse()), which turns etc/os-release into the OS line of
 * `info` and of the GuestInfo the host relays.
 *
 * Proves: any os-release (shell quoting, escapes, duplicates, binary
 * junk) gives one OS string, never a crash, leak or overread.
 *
 * Oracle: the result is a non-empty string without control characters
 * (it is printed on terminals and in the host's log), no longer than the
 * input or the "Linux" fallback plus one VERSION.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "info.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*text, *os;
	const char	*p;

	text = fuzz_cstr(data, size);
	os = info_os_parse(text);
	free(text);
	FUZZ_CHECK(os != NULL && *os != '\0');
	for (p = os; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	FUZZ_CHECK(strlen(os) <= size + strlen("Linux "));
	free(os);
	return (0);
}
