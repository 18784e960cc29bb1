/*
 * eve-guest-agent: the guest side.  One static binary holds the CLI
 * commands, which each open their own short connection to the host, and
 * the daemon that keeps a session up for the host's requests.
 */
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "codec.h"
#include "daemon.h"
#include "frame.h"
#include "jsonout.h"
#include "log.h"
#include "info.h"
#include "output.h"
#include "snapcmd.h"
#include "status.h"
#include "transport.h"
#include "xmalloc.h"

#define AGENT_NAME		"eve-guest-agent"
#define AGENT_SOFTWARE		AGENT_NAME " " EVG_VERSION
#define AGENT_CONNECT_ENV	"EVE_GUEST_AGENT_CONNECT"
#define AGENT_TIMEOUT_MS	5000
#define AGENT_HOOKS_DIR		"/etc/eve/snapshots"

/* Global options, parsed before the command. */
struct agent {
	struct evg_addr	 addr;
	int		 verbose;
};

struct agent_command {
	const char	*name;
	int		(*run)(struct agent *, int, char **);
};

static int	agent_status(struct agent *, int, char **);
static int	agent_daemon(struct agent *, int, char **);
static int	agent_snapshot(struct agent *, int, char **);
static int	agent_info(struct agent *, int, char **);

static const struct agent_command agent_commands[] = {
	{ .name = "status", .run = agent_status },
	{ .name = "daemon", .run = agent_daemon },
	{ .name = "snapshot", .run = agent_snapshot },
	{ .name = "info", .run = agent_info },
};

enum agent_snapshot_op {
	AGENT_SNAP_CREATE,
	AGENT_SNAP_LIST,
	AGENT_SNAP_DELETE,
	AGENT_SNAP_ROLLBACK,
	AGENT_SNAP_CHECK,
};

/* The snapshot subcommands and the arguments each takes. */
static const struct {
	const char		*name;
	enum agent_snapshot_op	 op;
	int			 min, max;	/* positional arguments */
	int			 disks;		/* of them, DISKs from this on */
	const char		*args;		/* for usage errors */
	int			 with_name;	/* takes --name */
	int			 with_member;	/* takes --member */
} agent_snapshot_ops[] = {
	{ "create", AGENT_SNAP_CREATE, 1, SNAPCMD_MAX_DISKS, 0,
	    "DISK [DISK...]", 1, 0 },
	{ "list", AGENT_SNAP_LIST, 0, 1, -1, "[DISK]", 0, 0 },
	{ "delete", AGENT_SNAP_DELETE, 1, 1, -1, "UUID", 0, 1 },
	{ "rollback", AGENT_SNAP_ROLLBACK, 1, 1 + SNAPCMD_MAX_DISKS, 1,
	    "NAME-OR-UUID [DISK...]", 0, 0 },
	{ "check", AGENT_SNAP_CHECK, 1, SNAPCMD_MAX_DISKS, 0,
	    "DISK [DISK...]", 0, 0 },
};

/* Print the help text. */
static void
agent_usage(FILE *f)
{
	unsigned int	i;

	fprintf(f,
"usage: " AGENT_NAME " [--connect ADDR] [--json] [-v] COMMAND [ARGS]\n"
"\n"
"Talks to eve-guest-hostd on the EVE host from inside this VM.\n"
"\n"
"Commands:\n"
"  status [--json]     show this VM as the host knows it: name, UUID, run\n"
"                      state, volumes and whether the agent daemon is\n"
"                      connected\n"
"  info [--json]       this guest's facts: agent, OS, kernel, hostname,\n"
"                      uptime, filesystems with usage, disks with their\n"
"                      identifiers\n"
"  daemon [--hooks-dir DIR] [-f]\n"
"                      serve the host's requests (freeze and thaw for\n"
"                      snapshots, the pre/post hooks of application-\n"
"                      consistent ones); stays in the foreground and reconnects\n"
"                      with backoff.  Logs go to syslog, or to stderr with\n"
"                      -f (--foreground).  Hooks are read from DIR\n"
"                      (default " AGENT_HOOKS_DIR ").\n"
"  snapshot create DISK [DISK...] [--name NAME]\n"
"                      one snapshot group of the EVE volumes behind the\n"
"                      DISKs (up to %d; a device such as /dev/sdc; a\n"
"                      partition or LVM device means the disks under it),\n"
"                      all taken while their mounted filesystems are frozen\n"
"                      at once; works with or without the daemon running\n"
"  snapshot list [DISK]\n"
"                      this VM's snapshot groups (only DISK's with DISK), one\n"
"                      row each: date, name, UUID, total size and this VM's\n"
"                      device names of all its disks; \"partial\" when a\n"
"                      member is gone\n"
"  snapshot delete UUID [--member]\n"
"                      delete a snapshot group of this VM (UUID: the\n"
"                      group's or a member's); --member deletes only the\n"
"                      member with that UUID, leaving the group partial\n"
"  snapshot rollback NAME-OR-UUID [DISK...]\n"
"                      roll every disk of a snapshot group back; with DISKs,\n"
"                      only the members on them (a subset); refused while a\n"
"                      filesystem on any of the disks is mounted\n"
"  snapshot check DISK [DISK...]\n"
"                      pre-flight of a create: what would be frozen on each\n"
"                      disk, the volumes, free space and whether it would go\n"
"                      ahead (exit status as the create would meet)\n"
"\n"
"Options (before the command):\n"
"  --connect ADDR      where the host listens: vsock:CID:PORT (default\n"
"                      vsock:%u:%u) or unix:PATH (a hybrid vsock socket);\n"
"                      when absent, $" AGENT_CONNECT_ENV " is used\n"
"  --json              print one JSON document on stdout, failures too:\n"
"                      {\"error\": {\"code\": \"NOT_FOUND\", \"message\": ...}}\n"
"  -v, --verbose       more log output (repeat for debug messages)\n"
"  -h, --help          show this help\n"
"  --version           show the version\n"
"\n"
"Exit status:\n"
"  0 success, 2 usage error, 3 host unreachable, otherwise the host's\n"
"  status code:\n", SNAPCMD_MAX_DISKS, VSOCK_HOST_CID, VSOCK_DEFAULT_PORT);
	for (i = EVG_OK + 1; i <= EVG_STATUS_MAX; i++) {
		if (i % 3 == 0 || i == EVG_STATUS_MAX)
			fprintf(f, "%2d %s\n", status_exit_code(i), status_name(i));
		else {
			fprintf(f, "%s%2d %-20s", i % 3 == 1 ? "  " : "",
			    status_exit_code(i), status_name(i));
		}
	}
}

/*
 * Report the option getopt_long() refused (opterr is off so that this is
 * the only line).  ret is getopt's ':' or '?'; what names the command or
 * is NULL for a global option.  Returns EXIT_USAGE.
 */
static int
agent_bad_option(char **argv, int ret, const char *what)
{
	char		 opt[64];
	const char	*arg = argv[optind - 1];
	size_t		 n;

	if (optopt != 0 && optopt < 0x80 && strncmp(arg, "--", 2) != 0)
		snprintf(opt, sizeof opt, "-%c", optopt);
	else {
		n = strcspn(arg, "=");
		snprintf(opt, sizeof opt, "%.*s", (int)n, arg);
	}
	if (ret == ':') {
		return (output_usage("option '%s'%s%s needs an argument", opt,
		    what != NULL ? " of " : "", what != NULL ? what : ""));
	}
	/* glibc sets optopt for a known long option given a value. */
	if (optopt != 0 && strncmp(arg, "--", 2) == 0) {
		return (output_usage("option '%s'%s%s takes no argument", opt,
		    what != NULL ? " of " : "", what != NULL ? what : ""));
	}
	return (output_usage("unknown option '%s'%s%s", opt,
	    what != NULL ? " for " : "", what != NULL ? what : ""));
}

/*
 * Answer what the host asks a CLI connection in the middle of a call:
 * every request gets exactly one reply, so one this command does not
 * handle is answered UNSUPPORTED.  Events and stray replies need none.
 */
static void
agent_host_request(const Evg__Envelope *env, void *arg)
{
	struct client		*c = arg;
	struct codec_reply	 r;
	unsigned int		 code = EVG_OK;
	char			 msg[128] = "", *cause;

	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_REPLY:
	case EVG__ENVELOPE__BODY_EVENT:
		return;
	case EVG__ENVELOPE__BODY_PING:
		break;
	default:
		code = EVG_UNSUPPORTED;
		snprintf(msg, sizeof msg, "this " AGENT_NAME " command does "
		    "not handle '%s' requests", codec_body_name(env));
		break;
	}
	codec_reply_init(&r, env->id, client_version(c), code, msg);
	if (client_send(c, &r.env, &cause) == -1) {
		log_debug("%s: %s", __func__, cause);
		free(cause);
	}
}

/*
 * Options of a command that takes no arguments: only --help, and --json,
 * which is also accepted after the command because that is where people
 * type it.  Returns -1 to go on, or the exit code when the command is
 * done: 0 after the help, EXIT_USAGE after a usage error.
 */
static int
agent_no_args(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int				 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			agent_usage(stdout);
			return (output_finish());
		case 'j':
			output_init(AGENT_NAME, 1);
			break;
		default:
			return (agent_bad_option(argv, ch, argv[0]));
		}
	}
	if (optind != argc)
		return (output_usage("%s takes no arguments", argv[0]));
	return (-1);
}

/* Print the VM as text. */
static void
agent_status_text(const Evg__VmInfo *vm)
{
	const Evg__Volume	*vol;
	size_t			 i, j;

	printf("VM:      %s\n", vm->name);
	printf("UUID:    %s\n", vm->uuid);
	printf("State:   %s\n", vm->state);
	if (vm->cid != 0)
		printf("CID:     %u\n", vm->cid);
	printf("Agent:   %s\n", vm->agent_connected ? "connected" :
	    "not connected");
	printf("Volumes: %zu\n", vm->n_volumes);
	for (i = 0; i < vm->n_volumes; i++) {
		vol = vm->volumes[i];
		printf("  %s (%s)", vol->name[0] != '\0' ? vol->name :
		    vol->uuid, vol->backend);
		for (j = 0; j < vol->n_disks; j++)
			printf(" %s:%s", vol->disks[j]->kind,
			    vol->disks[j]->value);
		printf("\n");
	}
}

/* Print the VM as one JSON document: {"vm": {...}}. */
static void
agent_status_json(const Evg__VmInfo *vm)
{
	struct json_object	*doc;

	doc = json_object_new_object();
	json_object_object_add(doc, "vm", jsonout_vm(vm));
	output_document(doc);
}

/* info: this guest's facts (what the host's `guest info` shows too). */
static int
agent_info(struct agent *a, int argc, char **argv)
{
	struct guest_info	*gi;
	char			*cause;
	int			 rc;

	(void)a;
	if ((rc = agent_no_args(argc, argv)) != -1)
		return (rc);
	if (info_collect(&gi, &cause) != 0) {
		rc = output_failure(EVG_INTERNAL, cause);
		free(cause);
		return (rc);
	}
	if (output_json())
		output_document(info_json(gi));
	else
		info_print(stdout, gi);
	info_free(gi);
	return (output_finish());
}

/* status: the VM as the host knows it. */
static int
agent_status(struct agent *a, int argc, char **argv)
{
	Evg__Envelope		 req = EVG__ENVELOPE__INIT, *rep = NULL;
	Evg__GuestStatusRequest	 body = EVG__GUEST_STATUS_REQUEST__INIT;
	struct client		*c;
	char			*cause = NULL;
	int			 code, rc;

	if ((rc = agent_no_args(argc, argv)) != -1)
		return (rc);
	c = client_open(&a->addr, EVG__ROLE__ROLE_GUEST_CLI, AGENT_SOFTWARE,
	    AGENT_TIMEOUT_MS, FRAME_MAX_GUEST, &code, &cause);
	if (c == NULL)
		goto fail;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_STATUS;
	req.guest_status = &body;
	rep = client_call(c, &req, agent_host_request, c, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		goto fail;
	if (rep->reply->result_case != EVG__REPLY__RESULT_VM ||
	    rep->reply->vm == NULL) {
		code = EVG_INTERNAL;
		cause = xstrdup("the host's answer carries no VM information");
		goto fail;
	}
	if (output_json())
		agent_status_json(rep->reply->vm);
	else
		agent_status_text(rep->reply->vm);
	codec_free(rep);
	client_close(c);
	return (output_finish());

fail:
	rc = output_failure(code, cause);
	free(cause);
	codec_free(rep);
	client_close(c);
	return (rc);
}

/*
 * daemon: serve the host's requests.  It never forks (systemd or OpenRC
 * supervise it); -f only sends the logs to stderr instead of syslog.
 */
static int
agent_daemon(struct agent *a, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "hooks-dir", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct daemon_config		 conf;
	const char			*hooks_dir = AGENT_HOOKS_DIR;
	int				 ch, foreground = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+:fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			foreground = 1;
			break;
		case 'h':
			agent_usage(stdout);
			return (output_finish());
		case 'H':
			hooks_dir = optarg;
			break;
		default:
			return (agent_bad_option(argv, ch, argv[0]));
		}
	}
	if (optind != argc) {
		return (output_usage("daemon: unexpected argument '%s'",
		    argv[optind]));
	}
	if (hooks_dir[0] != '/') {
		return (output_usage("--hooks-dir '%s': not an absolute path",
		    hooks_dir));
	}

	memset(&conf, 0, sizeof conf);
	conf.addr = a->addr;
	conf.hooks_dir = hooks_dir;
	conf.software = AGENT_SOFTWARE;
	/* A daemon reports its connections by default; -v adds debug. */
	log_init(AGENT_NAME, foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG,
	    1 + a->verbose);
	return (daemon_run(&conf));
}

/*
 * snapshot SUBCOMMAND: parse, then hand over to snapcmd.c.  Options may
 * come before or after the arguments ("--" ends them); --json is accepted
 * here too, as after status.
 */
static int
agent_snapshot(struct agent *a, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "member", no_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct snapcmd_config		 conf;
	const char			*name = NULL, *sub;
	char				 what[32];
	size_t				 i, k = SIZE_MAX;
	int				 ch, nargs, member = 0;

	if (argc < 2) {
		return (output_usage("snapshot: expected create, list, delete, "
		    "rollback or check"));
	}
	sub = argv[1];
	for (i = 0; i < sizeof agent_snapshot_ops /
	    sizeof agent_snapshot_ops[0]; i++) {
		if (strcmp(sub, agent_snapshot_ops[i].name) == 0)
			k = i;
	}
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		agent_usage(stdout);
		return (output_finish());
	}
	if (k == SIZE_MAX) {
		return (output_usage("snapshot: unknown subcommand '%s' "
		    "(expected create, list, delete, rollback or check)", sub));
	}
	snprintf(what, sizeof what, "snapshot %s", sub);

	argc--;
	argv++;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			agent_usage(stdout);
			return (output_finish());
		case 'j':
			output_init(AGENT_NAME, 1);
			break;
		case 'n':
			if (!agent_snapshot_ops[k].with_name) {
				return (output_usage("option '--name' is not "
				    "valid for %s", what));
			}
			name = optarg;
			break;
		case 'm':
			if (!agent_snapshot_ops[k].with_member) {
				return (output_usage("option '--member' is not "
				    "valid for %s", what));
			}
			member = 1;
			break;
		default:
			return (agent_bad_option(argv, ch, what));
		}
	}
	argc -= optind;
	argv += optind;
	nargs = argc;
	/* The one limit worth its own words: a group's disks. */
	if (nargs > agent_snapshot_ops[k].max &&
	    agent_snapshot_ops[k].disks != -1) {
		return (output_usage("%s: %d disks given, a snapshot group has "
		    "at most %d", what, nargs - agent_snapshot_ops[k].disks,
		    SNAPCMD_MAX_DISKS));
	}
	if (nargs > agent_snapshot_ops[k].max) {
		return (output_usage("%s: unexpected argument '%s' (expected "
		    "%s)", what, argv[agent_snapshot_ops[k].max],
		    agent_snapshot_ops[k].args));
	}
	if (nargs < agent_snapshot_ops[k].min)
		return (output_usage("%s: expected %s", what,
		    agent_snapshot_ops[k].args));

	memset(&conf, 0, sizeof conf);
	conf.addr = a->addr;
	conf.software = AGENT_SOFTWARE;
	switch (agent_snapshot_ops[k].op) {
	case AGENT_SNAP_CREATE:
		return (snapcmd_create(&conf, argv, (size_t)nargs, name));
	case AGENT_SNAP_LIST:
		return (snapcmd_list(&conf, nargs == 1 ? argv[0] : NULL));
	case AGENT_SNAP_DELETE:
		return (snapcmd_delete(&conf, argv[0], member));
	case AGENT_SNAP_ROLLBACK:
		return (snapcmd_rollback(&conf, argv[0], argv + 1,
		    (size_t)nargs - 1));
	case AGENT_SNAP_CHECK:
		return (snapcmd_check(&conf, argv, (size_t)nargs));
	}
	fatalx("%s: no such operation", __func__);
}

/* Parse the global options, then run the command. */
int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct agent			 a;
	const struct agent_command	*cmd = NULL;
	const char			*addr = NULL, *from = "--connect";
	char				*cause;
	size_t				 i;
	int				 ch, json = 0;

	memset(&a, 0, sizeof a);
	/* A host that hangs up mid-write must give an error, not a kill. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	output_init(AGENT_NAME, 0);
	log_init(AGENT_NAME, LOG_TO_STDERR, 0);

	while ((ch = getopt_long(argc, argv, "+:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			addr = optarg;
			break;
		case 'h':
			agent_usage(stdout);
			return (output_finish());
		case 'j':
			json = 1;
			break;
		case 'v':
			a.verbose++;
			break;
		case 'V':
			printf("%s\n", AGENT_SOFTWARE);
			return (output_finish());
		default:
			return (agent_bad_option(argv, ch, NULL));
		}
	}
	argc -= optind;
	argv += optind;
	output_init(AGENT_NAME, json);
	log_set_verbose(a.verbose);

	if (argc == 0)
		return (output_usage("no command given"));
	for (i = 0; i < sizeof agent_commands / sizeof agent_commands[0]; i++) {
		if (strcmp(argv[0], agent_commands[i].name) == 0)
			cmd = &agent_commands[i];
	}
	if (cmd == NULL)
		return (output_usage("unknown command '%s'", argv[0]));

	/* An empty variable reads as unset; an empty --connect is an error. */
	if (addr == NULL) {
		from = AGENT_CONNECT_ENV;
		if ((addr = getenv(AGENT_CONNECT_ENV)) != NULL && *addr == '\0')
			addr = NULL;
	}
	if (addr != NULL) {
		if (addr_parse(addr, &a.addr, &cause) != 0) {
			output_usage("%s: %s", from, cause);
			free(cause);
			return (EXIT_USAGE);
		}
	} else {
		a.addr.type = ADDR_VSOCK;
		a.addr.cid = VSOCK_HOST_CID;
		a.addr.port = VSOCK_DEFAULT_PORT;
	}
	return (cmd->run(&a, argc, argv));
}

/*
 * The agent never resolves names: it reaches the host by vsock CID or Unix
 * path.  libevent's evutil.o still refers to the resolver, and in a static
 * binary glibc's resolver would dlopen NSS modules from the glibc it was
 * built with at run time, so the link warns.  These definitions keep the
 * resolver out of the binary; any use fails instead of loading libraries
 * the guest may not have.  They live here because agent.c is linked into
 * eve-guest-agent only, never into the tests or the host tools.
 */

/* No name resolution in the static agent. */
int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	(void)node;
	(void)service;
	(void)hints;
	*res = NULL;
	return (EAI_FAIL);
}

/* Nothing to free: getaddrinfo() above returns no list. */
void
freeaddrinfo(struct addrinfo *ai)
{
	(void)ai;
}

/* No /etc/services lookups in the static agent. */
struct servent *
getservbyname(const char *name, const char *proto)
{
	(void)name;
	(void)proto;
	return (NULL);
}

/* No /etc/protocols lookups in the static agent. */
struct protoent *
getprotobynumber(int proto)
{
	(void)proto;
	return (NULL);
}
