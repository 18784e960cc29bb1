/* Unit tests for host/config.c and host/volspec.c (host-side parsing). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "suites.h"
#include "volspec.h"

/* Write text to a new temp file; returns its path (static buffer). */
static const char *
write_conf(const char *text)
{
	static char	path[64];
	int		fd;

	snprintf(path, sizeof path, "/tmp/evg-conf-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return (path);
}

/* Defaults match the documented values. */
START_TEST(test_config_defaults)
{
	struct config	cf;

	config_defaults(&cf);
	ck_assert_uint_eq(cf.vsock_port, 2210);
	ck_assert_int_eq(cf.vsock, 1);
	ck_assert_uint_eq(cf.max_frame_guest, 65536);
	ck_assert_str_eq(cf.control_socket, "/run/eve-guest-agent/control.sock");
	ck_assert(config_uid_allowed(&cf, 0));
	ck_assert(!config_uid_allowed(&cf, 1000));
	config_free(&cf);
}
END_TEST

/* A good file sets every kind of value; comments and blanks are fine. */
START_TEST(test_config_good)
{
	struct config	 cf;
	const char	*p;
	char		*cause = NULL;

	p = write_conf("# comment\n\nvsock = no\nvsock_port = 3000  # x\n"
	    "state_dir = /srv/evg\ncontrol_uids = 0, 1000\n"
	    "max_conns_per_vm = 4\n");
	config_defaults(&cf);
	ck_assert_int_eq(config_load(&cf, p, 1, &cause), 0);
	ck_assert_int_eq(cf.vsock, 0);
	ck_assert_uint_eq(cf.vsock_port, 3000);
	ck_assert_str_eq(cf.state_dir, "/srv/evg");
	ck_assert(config_uid_allowed(&cf, 1000));
	ck_assert_uint_eq(cf.max_conns_per_vm, 4);
	config_free(&cf);
	unlink(p);
}
END_TEST

/* Each bad line is reported with file, line number and the key. */
START_TEST(test_config_bad)
{
	static const struct {
		const char	*text;
		const char	*want;
	} cases[] = {
		{ "bogus = 1\n", ":1: unknown key 'bogus'" },
		{ "\nvsock_port\n", ":2: expected 'key = value'" },
		{ "max_frame_guest = 10\n", ":1: max_frame_guest: '10' is not "
		    "a number in 1024..16777216" },
		{ "vsock = maybe\n", ":1: vsock: 'maybe' is not yes or no" },
		{ "state_dir = relative\n", ":1: state_dir:" },
		{ "control_uids = root\n", ":1: control_uids:" },
		{ "idle_timeout = -5\n", ":1: idle_timeout:" },
	};
	struct config	 cf;
	const char	*p;
	char		*cause;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p = write_conf(cases[i].text);
		config_defaults(&cf);
		cause = NULL;
		ck_assert_int_eq(config_load(&cf, p, 1, &cause), -1);
		ck_assert_msg(strstr(cause, cases[i].want) != NULL,
		    "case %zu: '%s' lacks '%s'", i, cause, cases[i].want);
		free(cause);
		config_free(&cf);
		unlink(p);
	}
}
END_TEST

/*
 * config_parse() reads text as config_load() reads a file: a last line
 * without a newline counts, a line ends for the parser at a NUL byte, and
 * an error names the name given and the line.
 */
START_TEST(test_config_parse)
{
	static const char	 text[] = "# c\nvsock = no\0 junk\n\n"
	    "vsock_port = 3000";
	struct config		 cf;
	char			*cause = NULL;

	config_defaults(&cf);
	ck_assert_int_eq(config_parse(&cf, text, sizeof text - 1, "t.conf",
	    &cause), 0);
	ck_assert_int_eq(cf.vsock, 0);
	ck_assert_uint_eq(cf.vsock_port, 3000);
	ck_assert_int_eq(config_parse(&cf, "\n\nvsock_port = 0\n", 17,
	    "t.conf", &cause), -1);
	ck_assert_str_eq(cause, "t.conf:3: vsock_port: '0' is not a number in "
	    "1..65535");
	free(cause);
	config_free(&cf);
}
END_TEST

/*
 * The backends' command keys come from backend_kinds[]: their defaults,
 * their values and errors as for any key, and a reload's move of them.
 */
START_TEST(test_config_backend_commands)
{
	static const char	 text[] = "qemu_img = /usr/bin/qemu-img\n"
	    "zfs = zfs-test\n";
	struct config		 cf, n;
	char			*cause = NULL;

	config_defaults(&cf);
	ck_assert_str_eq(cf.cmd.qemu_img, "qemu-img");
	ck_assert_str_eq(cf.cmd.zfs, "zfs");
	config_defaults(&n);
	ck_assert_int_eq(config_parse(&n, text, sizeof text - 1, "t.conf",
	    &cause), 0);
	ck_assert_str_eq(n.cmd.qemu_img, "/usr/bin/qemu-img");
	ck_assert_str_eq(n.cmd.zfs, "zfs-test");
	ck_assert_int_eq(config_parse(&n, "zfs = sbin/zfs\n", 15, "t.conf",
	    &cause), -1);
	ck_assert_str_eq(cause, "t.conf:1: zfs: 'sbin/zfs' is not a command "
	    "name or an absolute path");
	free(cause);
	config_move_commands(&cf, &n);
	ck_assert_str_eq(cf.cmd.qemu_img, "/usr/bin/qemu-img");
	ck_assert_str_eq(cf.cmd.zfs, "zfs-test");
	ck_assert_ptr_null(n.cmd.qemu_img);
	ck_assert_ptr_null(n.cmd.zfs);
	config_free(&n);
	config_free(&cf);
	ck_assert_ptr_null(cf.cmd.qemu_img);
	ck_assert_ptr_null(cf.cmd.zfs);
}
END_TEST

/* A missing file is an error only when it was asked for. */
START_TEST(test_config_missing)
{
	struct config	 cf;
	char		*cause = NULL;

	config_defaults(&cf);
	ck_assert_int_eq(config_load(&cf, "/nonexistent/hostd.conf", 0,
	    &cause), 0);
	ck_assert_int_eq(config_load(&cf, "/nonexistent/hostd.conf", 1,
	    &cause), -1);
	free(cause);
	config_free(&cf);
}
END_TEST

/* allow_loopback_cid is off by default and takes only a boolean. */
START_TEST(test_config_allow_loopback_cid)
{
	struct config	 cf;
	const char	*p;
	char		*cause = NULL;

	config_defaults(&cf);
	ck_assert_int_eq(cf.allow_loopback_cid, 0);
	p = write_conf("allow_loopback_cid = yes\n");
	ck_assert_int_eq(config_load(&cf, p, 1, &cause), 0);
	ck_assert_int_eq(cf.allow_loopback_cid, 1);
	unlink(p);
	p = write_conf("allow_loopback_cid = 1\n");
	ck_assert_int_eq(config_load(&cf, p, 1, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, ":1: allow_loopback_cid: '1' is "
	    "not yes or no"));
	free(cause);
	unlink(p);
	config_free(&cf);
}
END_TEST

/* A full --volume spec parses into every field, disks in order. */
START_TEST(test_volspec_good)
{
	Evg__Volume	*v;
	char		*cause = NULL;

	v = volspec_parse("uuid=aaaaaaaa-2222-3333-4444-555555555555,"
	    "name=data,backend=qcow2,locator=/persist/d.qcow2,"
	    "disk=serial:ABC,disk=pci:0000:02:00.0,node=drive-data", &cause);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v->name, "data");
	ck_assert_str_eq(v->locator, "/persist/d.qcow2");
	ck_assert_uint_eq(v->n_disks, 2);
	ck_assert_str_eq(v->disks[1]->kind, "pci");
	ck_assert_str_eq(v->disks[1]->value, "0000:02:00.0");
	ck_assert_str_eq(v->node, "drive-data");
	volspec_free(v);
}
END_TEST

/* Every malformed --volume gets a message naming the problem. */
START_TEST(test_volspec_bad)
{
	static const struct {
		const char	*spec;
		const char	*want;
	} cases[] = {
		{ "", "uuid= is missing" },
		{ "foo", "'foo' is not KEY=VALUE" },
		{ "=x", "'=x' is not KEY=VALUE" },
		{ "uuid=a,name=b,backend=zfs,locator=p/v", "disk=KIND:VALUE is "
		    "missing" },
		{ "uuid=a,name=b,backend=zfs,disk=serial:x", "locator= is "
		    "missing" },
		{ "uuid=a,uuid=b", "uuid= given twice" },
		{ "color=red", "unknown key 'color'" },
		{ "disk=serial", "expected disk=KIND:VALUE" },
		{ "disk=:x", "expected disk=KIND:VALUE" },
		{ "disk=serial:", "expected disk=KIND:VALUE" },
		{ "uuid=,name=b", "uuid= is empty" },
		{ "uuid=a,name=b,backend=zfs,locator=p/v,disk=a:b,node=",
		    "node= is empty" },
	};
	Evg__Volume	*v;
	char		*cause;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cause = NULL;
		v = volspec_parse(cases[i].spec, &cause);
		ck_assert_ptr_null(v);
		ck_assert_msg(strstr(cause, cases[i].want) != NULL,
		    "case '%s': '%s' lacks '%s'", cases[i].spec, cause,
		    cases[i].want);
		free(cause);
	}
}
END_TEST

Suite *
suite_hostcfg(void)
{
	Suite	*s = suite_create("hostcfg");
	TCase	*tc = tcase_create("hostcfg");

	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_good);
	tcase_add_test(tc, test_config_bad);
	tcase_add_test(tc, test_config_missing);
	tcase_add_test(tc, test_config_parse);
	tcase_add_test(tc, test_config_backend_commands);
	tcase_add_test(tc, test_config_allow_loopback_cid);
	tcase_add_test(tc, test_volspec_good);
	tcase_add_test(tc, test_volspec_bad);
	suite_add_tcase(s, tc);
	return (s);
}
