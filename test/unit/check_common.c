/*
 * Unit tests for the small common/ modules: status.c, transport.c (address
 * parsing), uuid.c, text.c, atomicfile.c and log.c (log_escape).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "atomicfile.h"
#include "jsonout.h"
#include "jsonread.h"
#include "log.h"
#include "uuid.h"
#include "uuidx.h"
#include "readfile.h"
#include "status.h"
#include "suites.h"
#include "text.h"
#include "transport.h"
#include "uuid.h"

/* Proves the wire numbering matches the order DESIGN.md lists. */
START_TEST(test_status_names)
{
	static const char	*names[] = {
		"OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS",
		"NO_SPACE", "BUSY", "PERMISSION_DENIED", "FAILED_PRECONDITION",
		"UNAVAILABLE", "HOOK_FAILED", "FREEZE_FAILED", "TIMEOUT",
		"BACKEND_ERROR", "UNSUPPORTED", "INTERNAL",
	};
	unsigned int		 i;

	ck_assert_uint_eq(sizeof names / sizeof names[0], EVG_STATUS_MAX + 1);
	for (i = 0; i <= EVG_STATUS_MAX; i++) {
		ck_assert_str_eq(status_name(i), names[i]);
		ck_assert_int_eq(status_from_name(names[i]), (int)i);
		ck_assert_ptr_nonnull(status_description(i));
		ck_assert_uint_gt(strlen(status_description(i)), 0);
	}
}
END_TEST

/* Proves unknown codes read as INTERNAL and unknown names as -1. */
START_TEST(test_status_unknown)
{
	ck_assert_str_eq(status_name(EVG_STATUS_MAX + 1), "INTERNAL");
	ck_assert_str_eq(status_name(0xffffffffU), "INTERNAL");
	ck_assert_str_eq(status_description(1000),
	    status_description(EVG_INTERNAL));
	ck_assert_int_eq(status_exit_code(1000),
	    status_exit_code(EVG_INTERNAL));
	ck_assert_int_eq(status_from_name("BOGUS"), -1);
	ck_assert_int_eq(status_from_name(""), -1);
	ck_assert_int_eq(status_from_name("ok"), -1);
	ck_assert_int_eq(status_from_name("NOT_FOUND "), -1);
}
END_TEST

/*
 * Proves OK exits 0 and every other code has its own exit code, never 2
 * (usage) or 3 (unreachable), and below 126 (shells reserve 126+).
 */
START_TEST(test_status_exit_codes)
{
	unsigned int	i, j;
	int		c;

	ck_assert_int_eq(status_exit_code(EVG_OK), 0);
	for (i = 1; i <= EVG_STATUS_MAX; i++) {
		c = status_exit_code(i);
		ck_assert_int_ne(c, 0);
		ck_assert_int_ne(c, EXIT_USAGE);
		ck_assert_int_ne(c, EXIT_UNREACHABLE);
		ck_assert_int_gt(c, 0);
		ck_assert_int_lt(c, 126);
		for (j = 0; j < i; j++)
			ck_assert_int_ne(c, status_exit_code(j));
	}
}
END_TEST

/* Proves well-formed addresses parse to their parts and format back. */
START_TEST(test_addr_parse_good)
{
	struct evg_addr	 a;
	char		 buf[UNIX_PATH_MAX + 16], path[UNIX_PATH_MAX + 8];
	char		*cause = NULL;

	ck_assert_int_eq(addr_parse("vsock:2:2210", &a, &cause), 0);
	ck_assert_int_eq(a.type, ADDR_VSOCK);
	ck_assert_uint_eq(a.cid, 2);
	ck_assert_uint_eq(a.port, 2210);
	ck_assert_str_eq(addr_format(&a, buf, sizeof buf), "vsock:2:2210");

	ck_assert_int_eq(addr_parse("vsock:4294967295:0", &a, &cause), 0);
	ck_assert_uint_eq(a.cid, 4294967295U);
	ck_assert_uint_eq(a.port, 0);

	ck_assert_int_eq(addr_parse("unix:/p", &a, &cause), 0);
	ck_assert_int_eq(a.type, ADDR_UNIX);
	ck_assert_str_eq(a.path, "/p");
	ck_assert_str_eq(addr_format(&a, buf, sizeof buf), "unix:/p");

	/* The longest path that fits sun_path with its NUL. */
	memcpy(path, "unix:/", 6);
	memset(path + 6, 'x', UNIX_PATH_MAX - 2);
	path[6 + UNIX_PATH_MAX - 2] = '\0';
	ck_assert_int_eq(addr_parse(path, &a, &cause), 0);
	ck_assert_uint_eq(strlen(a.path), UNIX_PATH_MAX - 1);
	ck_assert_ptr_null(cause);
}
END_TEST

/* Proves malformed addresses fail with a cause that quotes the input. */
START_TEST(test_addr_parse_bad)
{
	static const char	*bad[] = {
		"vsock:x:1", "vsock:2", "tcp:1", "vsock::1", "vsock:1:",
		"vsock:-1:2", "vsock:2:+5", "vsock:4294967296:1",
		"vsock:1:99999999999", "vsock:2:2210:1", "vsock: 2:1",
		"unix:", "", "VSOCK:2:2210", "/run/x.sock",
	};
	struct evg_addr		 a;
	char			 path[UNIX_PATH_MAX + 8], *cause;
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		ck_assert_msg(addr_parse(bad[i], &a, &cause) == -1,
		    "'%s' accepted", bad[i]);
		ck_assert_ptr_nonnull(cause);
		ck_assert_msg(strstr(cause, bad[i]) != NULL,
		    "cause '%s' does not quote '%s'", cause, bad[i]);
		free(cause);
	}

	memcpy(path, "unix:/", 6);
	memset(path + 6, 'x', UNIX_PATH_MAX - 1);
	path[6 + UNIX_PATH_MAX - 1] = '\0';
	cause = NULL;
	ck_assert_int_eq(addr_parse(path, &a, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "longer than"));
	free(cause);
}
END_TEST

/* Proves uuid_valid accepts the canonical form in either case only. */
START_TEST(test_uuid_valid)
{
	static const char	*bad[] = {
		"", "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0", /* 35 */
		"6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b0",   /* 37 */
		"6f1e2d3c4b5a-4978-8a6b-5c4d3e2f1a0b-",
		"6f1e2d3c-4b5a-4978-8a6b_5c4d3e2f1a0b",
		"6f1e2d3g-4b5a-4978-8a6b-5c4d3e2f1a0b",
		"{6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a}",
		"6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0\n",
		"6f1e2d3c 4b5a 4978 8a6b 5c4d3e2f1a0b",
	};
	size_t			 i;

	ck_assert_int_eq(uuid_valid("6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"), 1);
	ck_assert_int_eq(uuid_valid("6F1E2D3C-4B5A-4978-8A6B-5C4D3E2F1A0B"), 1);
	ck_assert_int_eq(uuid_valid("00000000-0000-0000-0000-000000000000"), 1);
	ck_assert_int_eq(uuid_valid(NULL), 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(uuid_valid(bad[i]) == 0, "'%s' accepted", bad[i]);
}
END_TEST

/*
 * Proves generated UUIDs are canonical lower case with version nibble 4
 * and the RFC 4122 variant (8, 9, a or b), and are not repeated.
 */
START_TEST(test_uuid_generate)
{
	static const char	 variants[] = "89ab";
	char			 prev[UUID_STR_LEN + 1] = "";
	char			 u[UUID_STR_LEN + 1];
	int			 i, j, seen_variant[4] = { 0, 0, 0, 0 };

	for (i = 0; i < 256; i++) {
		memset(u, 'Z', sizeof u);
		uuid_generate_v4(u);
		ck_assert_uint_eq(strlen(u), UUID_STR_LEN);
		ck_assert_int_eq(uuid_valid(u), 1);
		ck_assert_int_eq(u[14], '4');
		ck_assert_ptr_nonnull(strchr(variants, u[19]));
		seen_variant[strchr(variants, u[19]) - variants] = 1;
		for (j = 0; j < UUID_STR_LEN; j++)
			ck_assert_msg(u[j] == '-' || (u[j] >= '0' &&
			    u[j] <= '9') || (u[j] >= 'a' && u[j] <= 'f'),
			    "'%s' is not lower-case hex", u);
		ck_assert_str_ne(u, prev);
		memcpy(prev, u, sizeof u);
	}
	/* 256 draws of two random bits miss a value with odds ~4 * 0.75^256. */
	for (j = 0; j < 4; j++)
		ck_assert_int_eq(seen_variant[j], 1);
}
END_TEST

/* n copies of the UTF-8 sequence s, in a new string. */
static char *
text_repeat(const char *s, size_t n)
{
	size_t	 len = strlen(s), i;
	char	*out;

	out = malloc(len * n + 1);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < n; i++)
		memcpy(out + i * len, s, len);
	out[len * n] = '\0';
	return (out);
}

/* Assert text_valid_name refuses s at the default cap with reason why. */
static void
text_refused(const char *s, const char *why)
{
	const char	*got = NULL;

	ck_assert_msg(text_valid_name(s, NAME_MAX_CHARS, &got) == 0,
	    "accepted a name that should fail with '%s'", why);
	ck_assert_pstr_eq(got, why);
}

/* Proves the length cap counts characters, not bytes, at 128 vs 129. */
START_TEST(test_text_name_length)
{
	static const char	*units[] = {
		"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x93\xb8",
	};
	char			*s;
	size_t			 i;

	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		s = text_repeat(units[i], NAME_MAX_CHARS);
		ck_assert_msg(text_valid_name(s, NAME_MAX_CHARS, NULL) == 1,
		    "128 x %zu-byte characters refused", strlen(units[i]));
		free(s);
		s = text_repeat(units[i], NAME_MAX_CHARS + 1);
		text_refused(s, "is too long");
		free(s);
	}
	ck_assert_int_eq(text_valid_name("abc", 3, NULL), 1);
	ck_assert_int_eq(text_valid_name("abcd", 3, NULL), 0);
}
END_TEST

/* Proves empty and NULL names are refused, and ordinary names accepted. */
START_TEST(test_text_name_empty_and_ok)
{
	const char	*why = NULL;

	text_refused("", "must not be empty");
	ck_assert_int_eq(text_valid_name(NULL, NAME_MAX_CHARS, &why), 0);
	ck_assert_str_eq(why, "must not be empty");
	ck_assert_int_eq(text_valid_name("Weekly backup", NAME_MAX_CHARS,
	    NULL), 1);
	ck_assert_int_eq(text_valid_name("x", NAME_MAX_CHARS, NULL), 1);
	ck_assert_int_eq(text_valid_name("\xf0\x9f\x93\xb8 before upgrade "
	    "\xe2\x80\x94 caf\xc3\xa9", NAME_MAX_CHARS, NULL), 1);
	ck_assert_int_eq(text_valid_name("\xf4\x8f\xbf\xbf", NAME_MAX_CHARS,
	    NULL), 1);
	ck_assert_int_eq(text_valid_name("\xc2\xa0nbsp", NAME_MAX_CHARS, NULL),
	    1);
}
END_TEST

/* Proves C0, DEL and C1 control characters are refused anywhere. */
START_TEST(test_text_name_control)
{
	text_refused("tab\there", "contains a control character");
	text_refused("line\n", "contains a control character");
	text_refused("\x1b[31mred", "contains a control character");
	text_refused("del\x7f", "contains a control character");
	text_refused("c1\xc2\x85next", "contains a control character");
	text_refused("c1\xc2\x9f", "contains a control character");
}
END_TEST

/*
 * Proves names that hide what they are (issue 11): only spaces (ASCII or
 * Unicode), and bidirectional or zero-width format characters, which can
 * make "exe.txt" read as "txt.exe" in a table, are refused; a name with
 * spaces inside, or around visible characters, is fine.
 */
START_TEST(test_text_name_deceptive)
{
	const char	*why = NULL;

	text_refused(" ", "must not be only spaces");
	text_refused("    ", "must not be only spaces");
	text_refused("\xc2\xa0\xe3\x80\x80", "must not be only spaces");
	text_refused("a\xe2\x80\xae" "b", "contains a bidirectional or zero-width "
	    "format character");
	text_refused("\xe2\x81\xa6x", "contains a bidirectional or zero-width "
	    "format character");
	text_refused("x\xe2\x80\x8b", "contains a bidirectional or zero-width "
	    "format character");
	ck_assert(text_valid_name(" Weekly backup ", NAME_MAX_CHARS, &why));
	ck_assert(text_valid_name("caf\xc3\xa9\xc2\xa0" "bar", NAME_MAX_CHARS,
	    &why));
}
END_TEST

/*
 * Proves malformed UTF-8 is refused: stray continuation bytes, bytes that
 * never start a sequence, truncated sequences, overlong encodings,
 * surrogates and code points past U+10FFFF.
 */
START_TEST(test_text_name_bad_utf8)
{
	static const char	*bad[] = {
		"\x80", "ok\xbf", "\xff", "\xfe", "\xf8\x88\x80\x80\x80",
		"\xc3", "end\xe2\x82", "\xf0\x9f\x93",
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf",
		"\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf",
		"\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf",
		"\xc3(", "\xe2\x28\xa1",
	};
	size_t			 i;
	const char		*why;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		ck_assert_msg(text_valid_name(bad[i], NAME_MAX_CHARS, &why) == 0,
		    "bad UTF-8 #%zu accepted", i);
		ck_assert_pstr_eq(why, "is not valid UTF-8");
	}
}
END_TEST

/* A fresh temporary directory for a test; the caller removes it. */
static char *
atomicfile_tmpdir(void)
{
	char	*dir;

	dir = strdup("/tmp/evg-check-XXXXXX");
	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return (dir);
}

/* Number of entries in dir other than . and .., and the last one's name. */
static int
atomicfile_count(const char *dir, char *last, size_t len)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		snprintf(last, len, "%s", de->d_name);
	}
	closedir(d);
	return (n);
}

/*
 * Proves a write replaces the content whole, leaves no temporary file
 * behind, gives the file the requested mode, and reads back exactly
 * (including NUL bytes and the terminating NUL added by the reader).
 */
START_TEST(test_atomicfile_write_read)
{
	char		*dir, *path, *buf, *cause = NULL, name[256];
	struct stat	 sb;
	size_t		 len = 0;
	mode_t		 old;

	old = umask(022);
	dir = atomicfile_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/state.json", dir), -1);

	ck_assert_int_eq(atomicfile_write(path, "first version", 13, 0600,
	    &cause), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	buf = atomicfile_read(path, 1024, &len, &cause);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(len, 13);
	ck_assert_str_eq(buf, "first version");
	free(buf);

	ck_assert_int_eq(atomicfile_write(path, "2\0x", 3, 0640, &cause), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	ck_assert_uint_eq(sb.st_size, 3);
	buf = atomicfile_read(path, 1024, &len, &cause);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(buf, "2\0x", 4);
	free(buf);

	ck_assert_int_eq(atomicfile_count(dir, name, sizeof name), 1);
	ck_assert_str_eq(name, "state.json");

	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
	umask(old);
}
END_TEST

/*
 * Proves the read refusals: a missing file is NULL with errno ENOENT and
 * no cause; a file over max, or a directory, is NULL with a cause.
 */
START_TEST(test_atomicfile_read_refusals)
{
	char	*dir, *path, *cause, *buf;

	dir = atomicfile_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/missing", dir), -1);
	cause = (char *)"untouched";
	errno = 0;
	ck_assert_ptr_null(atomicfile_read(path, 100, NULL, &cause));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(cause);

	ck_assert_int_eq(atomicfile_write(path, "0123456789", 10, 0600, &cause),
	    0);
	ck_assert_ptr_null(atomicfile_read(path, 9, NULL, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);
	buf = atomicfile_read(path, 10, NULL, &cause);
	ck_assert_ptr_nonnull(buf);
	free(buf);

	ck_assert_ptr_null(atomicfile_read(dir, 100, NULL, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);

	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}
END_TEST

/*
 * Proves the small-file reader: a file that fits is read whole and
 * NUL-terminated, one that does not is EFBIG, a missing one keeps its
 * errno, a directory is EINVAL; a proc file (no size) is read to its end;
 * readfile_alloc() names each refusal.
 */
START_TEST(test_readfile)
{
	char	*dir, *path, *cause, *s, buf[8];
	size_t	 len;

	dir = atomicfile_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/attr", dir), -1);
	errno = 0;
	ck_assert_int_eq(readfile_buf(path, buf, sizeof buf), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(readfile_alloc(path, 100, NULL, &cause));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(strncmp(cause, "cannot open ", 12), 0);
	free(cause);

	ck_assert_int_eq(atomicfile_write(path, " ABC\n", 5, 0600, &cause), 0);
	ck_assert_int_eq(readfile_buf(path, buf, sizeof buf), 5);
	ck_assert_str_eq(buf, " ABC\n");
	ck_assert_str_eq(readfile_text(path, buf, sizeof buf), "ABC");
	ck_assert_int_eq(readfile_buf(path, buf, 6), 5);
	errno = 0;
	ck_assert_int_eq(readfile_buf(path, buf, 5), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_ptr_null(readfile_text(path, buf, 5));

	ck_assert_ptr_null(readfile_alloc(path, 4, NULL, &cause));
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_int_ne(asprintf(&s, "%s: larger than 4 bytes", path), -1);
	ck_assert_str_eq(cause, s);
	free(s);
	free(cause);
	s = readfile_alloc(path, 5, &len, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, 5);
	free(s);

	errno = 0;
	ck_assert_int_eq(readfile_buf(dir, buf, sizeof buf), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(readfile_alloc(dir, 100, NULL, &cause));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(cause, ": not a regular file"));
	free(cause);

	s = readfile_alloc("/proc/self/status", 1 << 20, &len, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(len, 100);
	ck_assert_uint_eq(strlen(s), len);
	ck_assert_ptr_nonnull(strstr(s, "\nPid:\t"));
	free(s);

	strcpy(buf, " \t\n");
	ck_assert_ptr_null(readfile_trim(buf));
	strcpy(buf, "\ta b \r\n");
	ck_assert_str_eq(readfile_trim(buf), "a b");
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}
END_TEST

/* Proves a write into a missing directory fails with a cause and creates nothing. */
START_TEST(test_atomicfile_write_fails)
{
	char	*dir, *path, *cause = NULL, name[256];

	dir = atomicfile_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/no/such/file", dir), -1);
	ck_assert_int_eq(atomicfile_write(path, "x", 1, 0600, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "create"));
	free(cause);
	ck_assert_int_eq(atomicfile_count(dir, name, sizeof name), 0);
	rmdir(dir);
	free(path);
	free(dir);
}
END_TEST

/* Proves mkdirs creates every missing component with the mode and tolerates existing ones. */
START_TEST(test_atomicfile_mkdirs)
{
	char		*dir, *path, *cause = NULL;
	struct stat	 sb;
	mode_t		 old;

	old = umask(022);
	dir = atomicfile_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/a/b/c", dir), -1);
	ck_assert_int_eq(atomicfile_mkdirs(path, 0750, &cause), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0750);
	ck_assert_int_eq(atomicfile_mkdirs(path, 0750, &cause), 0);
	ck_assert_ptr_null(cause);

	rmdir(path);
	path[strlen(path) - 2] = '\0';
	rmdir(path);
	path[strlen(path) - 2] = '\0';
	rmdir(path);
	ck_assert_int_eq(rmdir(dir), 0);
	free(path);
	free(dir);
	umask(old);
}
END_TEST

/* Proves printable bytes pass through and others, and '\', become \xNN. */
START_TEST(test_log_escape_escapes)
{
	char	buf[64];

	ck_assert_str_eq(log_escape(buf, sizeof buf, "abc", 3), "abc");
	ck_assert_str_eq(log_escape(buf, sizeof buf, "", 0), "");
	ck_assert_str_eq(log_escape(buf, sizeof buf, "a\0b", 3), "a\\x00b");
	ck_assert_str_eq(log_escape(buf, sizeof buf, "\x01\\\n\x7f\xff", 5),
	    "\\x01\\x5c\\x0a\\x7f\\xff");
	ck_assert_str_eq(log_escape(buf, sizeof buf, "\"q\" ~", 5), "\"q\" ~");
	ck_assert_ptr_eq(log_escape(buf, sizeof buf, "x", 1), buf);
}
END_TEST

/* Proves truncation ends in "..." and never splits an escape sequence. */
START_TEST(test_log_escape_truncates)
{
	char	buf[64], many[100];

	memset(many, 'a', sizeof many);
	ck_assert_str_eq(log_escape(buf, 10, many, sizeof many), "aaaaaa...");
	ck_assert_str_eq(log_escape(buf, 12, "\x01\x01\x01\x01", 4),
	    "\\x01\\x01...");
	ck_assert_str_eq(log_escape(buf, 4, many, sizeof many), "...");
	ck_assert_str_eq(log_escape(buf, 3, many, sizeof many), "");
	buf[0] = 'K';
	log_escape(buf, 0, many, sizeof many);
	ck_assert_int_eq(buf[0], 'K');
}
END_TEST

/* True if o is where an escaped character of in starts (or ends all). */
static int
log_escape_boundary(const char *in, size_t len, size_t o)
{
	size_t	k, at = 0;

	for (k = 0; k <= len; k++) {
		if (at == o)
			return (1);
		if (k < len)
			at += ((unsigned char)in[k] >= 0x20 &&
			    (unsigned char)in[k] < 0x7f && in[k] != '\\') ? 1 : 4;
	}
	return (0);
}

/*
 * Proves, for every buffer size from 0 to 80 over mixed input, that the
 * output stays inside the buffer, is the whole escape when that fits with
 * room to spare, and otherwise is a prefix of it cut at a character
 * boundary, at most one escape short of the space, followed by "...".
 */
START_TEST(test_log_escape_bounds)
{
	const char	in[] = "ok \x01\\\xff tail \x00 end";
	const size_t	inlen = sizeof in - 1;
	char		full[256], buf[96 + 16];
	size_t		size, flen, len, k;

	log_escape(full, sizeof full, in, inlen);
	flen = strlen(full);
	ck_assert_uint_eq(flen, 29);
	for (size = 0; size <= 80; size++) {
		memset(buf, '#', sizeof buf);
		log_escape(buf, size, in, inlen);
		for (k = size; k < sizeof buf; k++)
			ck_assert_msg(buf[k] == '#', "size %zu: wrote byte %zu",
			    size, k);
		if (size == 0)
			continue;
		len = strlen(buf);
		ck_assert_uint_lt(len, size);
		if (size < 4) {
			ck_assert_str_eq(buf, "");
			continue;
		}
		if (flen + 3 < size) {
			ck_assert_str_eq(buf, full);
			continue;
		}
		if (flen < size && strcmp(buf, full) == 0)
			continue;
		ck_assert_msg(len >= 3 && strcmp(buf + len - 3, "...") == 0,
		    "size %zu: '%s' lacks the ellipsis", size, buf);
		ck_assert_msg(strncmp(buf, full, len - 3) == 0 &&
		    log_escape_boundary(in, inlen, len - 3),
		    "size %zu: '%s' is not cut at a character", size, buf);
		ck_assert_msg(len - 3 + 7 >= size, "size %zu: '%s' cut short",
		    size, buf);
	}
}
END_TEST

/* Proves UTF-8 checking and repair: each malformed byte becomes U+FFFD. */
START_TEST(test_text_utf8_fix)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\xff", "\xef\xbf\xbd" },
		{ "a\xc3", "a\xef\xbf\xbd" },			/* cut short */
		{ "\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xf0\x9f\x93\xb8", "\xf0\x9f\x93\xb8" },
	};
	size_t	i;
	char	*fixed;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fixed = text_utf8_fix(cases[i].in, strlen(cases[i].in));
		ck_assert_msg(strcmp(fixed, cases[i].out) == 0, "case %zu", i);
		ck_assert(text_utf8_valid(fixed, strlen(fixed)));
		ck_assert_int_eq(text_utf8_valid(cases[i].in,
		    strlen(cases[i].in)), strcmp(cases[i].in,
		    cases[i].out) == 0);
		free(fixed);
	}
}
END_TEST

/*
 * Proves cuts never split a character: a prefix or suffix that would end
 * or begin inside the euro sign moves to its edge, and text_cut marks the
 * cut with "..." within the limit.
 */
START_TEST(test_text_cut_boundaries)
{
	const char	*s = "ab\xe2\x82\xac" "cd";	/* a b EUR c d: 7 bytes */
	char		 buf[32];
	size_t		 i;

	ck_assert_uint_eq(text_utf8_prefix(s, 7, 2), 2);
	ck_assert_uint_eq(text_utf8_prefix(s, 7, 3), 2);
	ck_assert_uint_eq(text_utf8_prefix(s, 7, 4), 2);
	ck_assert_uint_eq(text_utf8_prefix(s, 7, 5), 5);
	ck_assert_uint_eq(text_utf8_prefix(s, 7, 9), 7);
	ck_assert_uint_eq(text_utf8_suffix(s, 7, 2), 5);
	ck_assert_uint_eq(text_utf8_suffix(s, 7, 3), 5);
	ck_assert_uint_eq(text_utf8_suffix(s, 7, 4), 5);
	ck_assert_uint_eq(text_utf8_suffix(s, 7, 5), 2);
	ck_assert_uint_eq(text_utf8_suffix(s, 7, 7), 0);
	for (i = 0; i <= 9; i++) {
		snprintf(buf, sizeof buf, "%s", s);
		text_cut(buf, i);
		ck_assert_msg(strlen(buf) <= i || (i >= 7 && strlen(buf) == 7),
		    "max %zu gave %zu bytes", i, strlen(buf));
		ck_assert_msg(text_utf8_valid(buf, strlen(buf)), "max %zu", i);
	}
	snprintf(buf, sizeof buf, "%s", s);
	ck_assert_str_eq(text_cut(buf, 6), "ab...");
}
END_TEST

/*
 * Proves text_escape keeps printable UTF-8 and shows, as escapes, what
 * could deceive an operator: ESC sequences, a newline that would forge a
 * log line, C1 controls, malformed bytes and bidi/zero-width controls.
 */
START_TEST(test_text_escape)
{
	char	buf[128];

	ck_assert_str_eq(text_escape(buf, sizeof buf, "caf\xc3\xa9 ok"),
	    "caf\xc3\xa9 ok");
	ck_assert_str_eq(text_escape(buf, sizeof buf,
	    "\033[31mred\nevg: forged"), "\\x1b[31mred\\x0aevg: forged");
	ck_assert_str_eq(text_escape(buf, sizeof buf, "a\xc2\x9b" "b\xff"),
	    "a\\xc2\\x9bb\\xff");
	ck_assert_str_eq(text_escape(buf, sizeof buf, "x\xe2\x80\xaey"),
	    "x\\u{202e}y");
	ck_assert_str_eq(text_escape(buf, 8, "abcdefghij"), "abcd...");
	ck_assert_str_eq(text_escape(buf, 8, "ab\033cdef"), "ab...");
}
END_TEST

/*
 * Proves typed JSON reads refuse what a hostile QEMU or state file could
 * put where a string or a count belongs: null, numbers, arrays, negative
 * and huge values, all as "absent or wrong", never a crash or a wrap.
 */
START_TEST(test_jsonread_types)
{
	json_object	*o;
	uint64_t	 v = 77;

	o = json_tokener_parse("{\"s\": \"x\", \"n\": null, \"i\": 5, "
	    "\"neg\": -1, \"big\": 18446744073709551615, \"a\": [1], "
	    "\"max\": 9223372036854775807, \"str\": \"5\"}");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(jsonread_str(o, "s"), "x");
	ck_assert_ptr_null(jsonread_str(o, "n"));
	ck_assert_ptr_null(jsonread_str(o, "i"));
	ck_assert_ptr_null(jsonread_str(o, "missing"));
	ck_assert_ptr_null(jsonread_str(NULL, "s"));
	ck_assert_ptr_null(jsonread_str(json_object_object_get(o, "a"), "s"));
	ck_assert_int_eq(jsonread_u64(o, "i", 10, &v), 1);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(jsonread_u64(o, "i", 4, &v), -1);
	ck_assert_int_eq(jsonread_u64(o, "n", UINT64_MAX, &v), 0);
	ck_assert_int_eq(jsonread_u64(o, "missing", UINT64_MAX, &v), 0);
	ck_assert_int_eq(jsonread_u64(o, "neg", UINT64_MAX, &v), -1);
	ck_assert_int_eq(jsonread_u64(o, "str", UINT64_MAX, &v), -1);
	ck_assert_int_eq(jsonread_u64(o, "a", UINT64_MAX, &v), -1);
	ck_assert_int_eq(jsonread_u64(o, "big", INT64_MAX, &v), -1);
	ck_assert_int_eq(jsonread_u64(o, "big", UINT64_MAX, &v), 1);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(jsonread_u64(o, "max", INT64_MAX, &v), 1);
	ck_assert(v == INT64_MAX);
	ck_assert_uint_eq(v, INT64_MAX);
	json_object_put(o);
}
END_TEST

/*
 * Proves the issue-10 finding 5: a time past year 9999 (or past what
 * gmtime_r can take) is written as the epoch, not from an uninitialised
 * struct tm; the last representable second is written as it is.
 */
START_TEST(test_jsonout_time_out_of_range)
{
	char	buf[32];

	ck_assert_str_eq(jsonout_time(buf, sizeof buf, 0),
	    "1970-01-01T00:00:00Z");
	ck_assert_str_eq(jsonout_time(buf, sizeof buf, JSONOUT_TIME_MAX),
	    "9999-12-31T23:59:59Z");
	ck_assert_str_eq(jsonout_time(buf, sizeof buf, JSONOUT_TIME_MAX + 1),
	    "1970-01-01T00:00:00Z");
	ck_assert_str_eq(jsonout_time(buf, sizeof buf, (uint64_t)1 << 62),
	    "1970-01-01T00:00:00Z");
	ck_assert_str_eq(jsonout_time(buf, sizeof buf, UINT64_MAX),
	    "1970-01-01T00:00:00Z");
	ck_assert_str_eq(jsonout_time_fmt(buf, sizeof buf, UINT64_MAX,
	    "%Y-%m-%d %H:%M:%S"), "1970-01-01 00:00:00");
}
END_TEST

/*
 * The UUID index: thousands of entries found case-insensitively, removed
 * (half of them, so backward shifts cross probe chains) without losing
 * the others, and entered again.
 */
START_TEST(test_uuidx)
{
	struct uuidx	 x;
	char		 (*u)[UUID_STR_LEN + 1];
	char		 upper[UUID_STR_LEN + 1];
	size_t		 i, j, n = 5000;

	memset(&x, 0, sizeof x);
	ck_assert_ptr_null(uuidx_get(&x, "00000000-0000-4000-8000-000000000000"));
	u = calloc(n, sizeof *u);
	ck_assert_ptr_nonnull(u);
	for (i = 0; i < n; i++) {
		snprintf(u[i], sizeof u[i], "%08zx-aaaa-4bbb-8ccc-%012zx",
		    i * 2654435761U % 100000, i);
		uuidx_put(&x, u[i], &u[i]);
	}
	ck_assert_uint_eq(x.n, n);
	for (i = 0; i < n; i++) {
		for (j = 0; j <= UUID_STR_LEN; j++)
			upper[j] = (char)toupper((unsigned char)u[i][j]);
		ck_assert_ptr_eq(uuidx_get(&x, upper), &u[i]);
	}
	for (i = 0; i < n; i += 2)
		uuidx_del(&x, u[i]);
	uuidx_del(&x, "ffffffff-ffff-4fff-8fff-ffffffffffff");
	ck_assert_uint_eq(x.n, n / 2);
	for (i = 0; i < n; i++)
		ck_assert_ptr_eq(uuidx_get(&x, u[i]), i % 2 == 0 ? NULL :
		    (void *)&u[i]);
	for (i = 0; i < n; i += 2)
		uuidx_put(&x, u[i], &u[i]);
	for (i = 0; i < n; i++)
		ck_assert_ptr_eq(uuidx_get(&x, u[i]), &u[i]);
	uuidx_clear(&x);
	ck_assert_ptr_null(uuidx_get(&x, u[0]));
	free(u);
}
END_TEST

Suite *
suite_common(void)
{
	Suite	*s = suite_create("common");
	TCase	*tc;

	tc = tcase_create("status");
	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_status_unknown);
	tcase_add_test(tc, test_status_exit_codes);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr");
	tcase_add_test(tc, test_addr_parse_good);
	tcase_add_test(tc, test_addr_parse_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("uuid");
	tcase_add_test(tc, test_uuid_valid);
	tcase_add_test(tc, test_uuid_generate);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_text_name_length);
	tcase_add_test(tc, test_text_name_empty_and_ok);
	tcase_add_test(tc, test_text_name_control);
	tcase_add_test(tc, test_text_name_bad_utf8);
	tcase_add_test(tc, test_text_name_deceptive);
	tcase_add_test(tc, test_text_utf8_fix);
	tcase_add_test(tc, test_text_cut_boundaries);
	tcase_add_test(tc, test_text_escape);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_jsonread_types);
	tcase_add_test(tc, test_jsonout_time_out_of_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("atomicfile");
	tcase_add_test(tc, test_atomicfile_write_read);
	tcase_add_test(tc, test_atomicfile_read_refusals);
	tcase_add_test(tc, test_readfile);
	tcase_add_test(tc, test_atomicfile_write_fails);
	tcase_add_test(tc, test_atomicfile_mkdirs);
	suite_add_tcase(s, tc);

	tc = tcase_create("log_escape");
	tcase_add_test(tc, test_log_escape_escapes);
	tcase_add_test(tc, test_log_escape_truncates);
	tcase_add_test(tc, test_log_escape_bounds);
	tcase_add_test(tc, test_uuidx);
	suite_add_tcase(s, tc);
	return (s);
}
