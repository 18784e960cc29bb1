/*
 * eve-guest-hostctl: command-line client of eve-guest-hostd's control
 * socket, speaking the same protocol as pillar.  One request per run; the
 * exit code follows the reply's status (docs/cli.md).  A command is a row
 * of hostctl_commands[]; the vm and snapshot subcommands are rows of
 * hostctl_vm_commands[] and hostctl_snap_commands[].
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend_kind.h"
#include "client.h"
#include "codec.h"
#include "config.h"
#include "frame.h"
#include "jsonout.h"
#include "proc.h"
#include "registry.h"
#include "snapgroup.h"
#include "status.h"
#include "text.h"
#include "volspec.h"
#include "xmalloc.h"

struct hostctl {
	struct evg_addr	 addr;
	int		 json;
	int		 timeout_ms;	/* connect and short requests */
	int		 op_timeout_ms;	/* snapshot operations */
};

/*
 * A row of a command table (hostctl_commands[], hostctl_vm_commands[]):
 * run gets argv from the command's name on.  nargs is how many arguments
 * follow the name, checked before run (-1: run parses its own options and
 * arguments); args says what they are in a usage error.
 */
struct hostctl_command {
	const char	*name;
	int		(*run)(struct hostctl *, int, char **);
	int		 nargs;
	const char	*args;
};

/* Print a reply (arg as the request's caller says); returns the exit code. */
typedef int	(*hostctl_print_fn)(struct hostctl *, const Evg__Envelope *,
		    const char *);

#define HOSTCTL_NITEMS(a)	(sizeof (a) / sizeof (a)[0])

/* Snapshot operations wait this long unless --timeout says otherwise. */
#define HOSTCTL_OP_TIMEOUT_MS	(15 * 60 * 1000)

/* Print usage to f. */
static void
hostctl_usage(FILE *f)
{
	char	backends[128];

	fprintf(f,
"usage: eve-guest-hostctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND\n"
"\n"
"Commands:\n"
"  vm add --uuid UUID --name NAME [--cid CID] [--hybrid-socket PATH]\n"
"         [--qmp PATH] [--qmp-agent PATH] [--snapshot-budget BYTES]\n"
"         [--state running|stopped] --volume SPEC [--volume SPEC]...\n"
"      SPEC: uuid=UUID,name=NAME,backend=%s,locator=PATH-OR-DATASET,\n"
"            disk=KIND:VALUE[,disk=KIND:VALUE][,node=DRIVE-ID-OR-NODE]\n"
"            KIND is serial, wwn, pci (DDDD:BB:SS.F), pcipath (04.0/00.0)\n"
"            or backing (loop file); node= is optional\n"
"      BYTES: a number, or with K, M, G or T (binary); no budget if left out\n"
"  vm update UUID [--name NAME] [--cid CID] [--hybrid-socket PATH] [--qmp PATH]\n"
"         [--qmp-agent PATH] [--snapshot-budget BYTES|none] [--volume SPEC]...\n"
"      changes only what is given; --volume replaces the volume list (a\n"
"      volume left out keeps its snapshots for when it returns); '' clears\n"
"  vm remove UUID\n"
"  vm list\n"
"  vm show UUID\n"
"  vm state UUID stopped|starting|running\n"
"      starting: call before QEMU starts; applies a scheduled rollback first\n"
"  snapshot create --vm UUID [--volume UUID]... [--name NAME]\n"
"                  [--consistency app|fs|crash]   (default: crash)\n"
"                  [--idempotency-key KEY] [--hook-timeout SECONDS]\n"
"      one snapshot group of the volumes (no --volume: all of them)\n"
"  snapshot list --vm UUID           one row per snapshot group\n"
"  snapshot delete --vm UUID GROUP [--member]\n"
"      GROUP: the group's UUID or name, or a member's UUID; --member\n"
"      deletes only the member with that UUID (the group becomes partial)\n"
"  snapshot rollback --vm UUID GROUP [--volume UUID]... [--online]\n"
"      every member, or only those of the volumes named (a subset); a\n"
"      running VM's rollback is scheduled for when it stops; --online\n"
"      rolls one qcow2 data disk of a running VM back now instead (the\n"
"      disk is unplugged, reverted and plugged back; refused, saying why,\n"
"      when it cannot be: unmount it in the guest first)\n"
"  events [--follow]       recent events; --follow streams new ones\n"
"  guest info --vm UUID    facts from the VM's guest agent daemon\n"
"\n"
"Options:\n"
"  --socket PATH       control socket (default %s)\n"
"  --json              print one JSON document on stdout\n"
"  --timeout SECONDS   wait this long for the daemon (default 10; snapshot\n"
"                      create, delete and rollback, and vm state: 900)\n"
"  -h, --help          this help;  --version  print the version\n"
"\n"
"Exit codes: 0 success, 2 usage error, 3 daemon unreachable, 10-23 one per\n"
"status code (see eve-guest-hostctl(8) and docs/cli.md).\n",
	    backend_kind_names(backends, sizeof backends, "|", "|", 0),
	    CONTROL_SOCKET_DEFAULT);
}

/* Usage error: one line, exit 2. */
__attribute__((noreturn, format(printf, 1, 2))) static void
hostctl_usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "eve-guest-hostctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	exit(EXIT_USAGE);
}

/*
 * Text from the daemon (it may quote a guest) made safe for a terminal:
 * controls and format characters escaped (text_escape).  Returns one of a
 * few rotating static buffers, so one printf can take several.
 */
static const char *
hostctl_esc(const char *s)
{
	static char	ring[8][16384];
	static size_t	next;
	char		*buf = ring[next++ % 8];

	return (text_escape(buf, sizeof ring[0], s != NULL ? s : ""));
}

/* Report a failure (text or JSON) and return its exit code. */
static int
hostctl_fail(struct hostctl *hc, int code, const char *msg)
{
	int	exit_code;

	exit_code = code == CLIENT_UNREACHABLE ? EXIT_UNREACHABLE :
	    status_exit_code((unsigned)code);
	if (hc->json)
		jsonout_print(stdout, jsonout_error(code == CLIENT_UNREACHABLE ?
		    "UNAVAILABLE" : status_name((unsigned)code), msg));
	else
		fprintf(stderr, "eve-guest-hostctl: %s\n", hostctl_esc(msg));
	return (exit_code);
}

/* The daemon's word before the answer: a request waiting for its turn. */
static void
hostctl_notice(const Evg__Envelope *env, void *arg)
{
	(void)arg;
	if (env->body_case == EVG__ENVELOPE__BODY_EVENT && env->event != NULL &&
	    env->event->kind != NULL && strcmp(env->event->kind, "queued") == 0)
		fprintf(stderr, "eve-guest-hostctl: %s\n",
		    hostctl_esc(env->event->message));
}

/*
 * Connect and say hello.  A daemon serving as many connections as it
 * takes (max_conns, max_control_conns) refuses with UNAVAILABLE: that is
 * a wait, not a failure, so try again every 10-40 ms (spread, so that
 * the refused do not all come back at once) until --timeout, saying once
 * that we wait.  NULL with *code and *cause as client_open() when that
 * fails, the last refusal's when the time is up.
 */
static struct client *
hostctl_open(struct hostctl *hc, int *code, char **cause)
{
	struct client	*c;
	struct timespec	 start;
	long long	 left = hc->timeout_ms;
	int		 told = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		/* Each try within what is left of --timeout. */
		c = client_open(&hc->addr, EVG__ROLE__ROLE_CONTROL,
		    "eve-guest-hostctl " EVG_VERSION, (int)left,
		    FRAME_MAX_CONTROL, code, cause);
		if (c != NULL) {
			/* The requests have their whole time. */
			client_set_timeout(c, hc->timeout_ms);
			return (c);
		}
		if (*code != EVG_UNAVAILABLE ||
		    (left = (long long)hc->timeout_ms -
		    proc_elapsed_ms(&start)) <= 0)
			return (NULL);
		if (!told++)
			fprintf(stderr, "eve-guest-hostctl: waiting for a "
			    "connection: %s\n", hostctl_esc(*cause));
		free(*cause);
		*cause = NULL;
		usleep((useconds_t)(10000 + ((unsigned)getpid() * 7919u +
		    (unsigned)told * 104729u) % 30000u));
	}
}

/*
 * Connect, send one request, and return the reply (caller frees) or NULL
 * after reporting the failure with *exit_code set.
 */
static Evg__Envelope *
hostctl_call(struct hostctl *hc, Evg__Envelope *req, int *exit_code)
{
	struct client	*c;
	Evg__Envelope	*rep;
	char		*cause;
	int		 code;

	c = hostctl_open(hc, &code, &cause);
	if (c == NULL) {
		*exit_code = hostctl_fail(hc, code, cause);
		free(cause);
		return (NULL);
	}
	/* `starting` waits for a scheduled rollback as a rollback does. */
	if (req->body_case == EVG__ENVELOPE__BODY_SNAPSHOT_CREATE ||
	    req->body_case == EVG__ENVELOPE__BODY_VM_STATE ||
	    req->body_case == EVG__ENVELOPE__BODY_SNAPSHOT_DELETE ||
	    req->body_case == EVG__ENVELOPE__BODY_SNAPSHOT_ROLLBACK)
		client_set_timeout(c, hc->op_timeout_ms);
	rep = client_call(c, req, hostctl_notice, NULL, &code, &cause);
	client_close(c);
	if (rep == NULL || code != EVG_OK) {
		*exit_code = hostctl_fail(hc, rep == NULL ? CLIENT_UNREACHABLE :
		    code, cause);
		free(cause);
		codec_free(rep);
		return (NULL);
	}
	*exit_code = 0;
	return (rep);
}

/* Send one request and print its reply; returns the exit code. */
static int
hostctl_request(struct hostctl *hc, Evg__Envelope *req, hostctl_print_fn print,
    const char *arg)
{
	Evg__Envelope	*rep;
	int		 rc;

	if ((rep = hostctl_call(hc, req, &rc)) == NULL)
		return (rc);
	rc = print(hc, rep, arg);
	codec_free(rep);
	return (rc);
}

/* The row of table (n rows) named name, or NULL. */
static const struct hostctl_command *
hostctl_find(const struct hostctl_command *table, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return (&table[i]);
	return (NULL);
}

/* Print one disk identifier list "kind:value, ...". */
static void
hostctl_print_disks(const Evg__Volume *v)
{
	size_t	i;

	for (i = 0; i < v->n_disks; i++)
		printf("%s%s:%s", i == 0 ? "" : ",", v->disks[i]->kind,
		    v->disks[i]->value);
}

/* Print a VM in text form. */
static void
hostctl_print_vm(const Evg__VmInfo *vm)
{
	const Evg__Volume	*v;
	size_t			 i;

	printf("UUID:           %s\n", vm->uuid);
	printf("Name:           %s\n", vm->name);
	if (vm->cid != 0)
		printf("CID:            %u\n", vm->cid);
	else
		printf("CID:            -\n");
	printf("Hybrid socket:  %s\n", *vm->hybrid_socket != '\0' ?
	    vm->hybrid_socket : "-");
	printf("QMP:            %s\n", *vm->qmp != '\0' ? vm->qmp : "-");
	if (*vm->qmp_agent != '\0')
		printf("QMP (agent):    %s\n", vm->qmp_agent);
	if (vm->snapshot_budget != 0)
		printf("Snapshot budget: %llu bytes\n",
		    (unsigned long long)vm->snapshot_budget);
	printf("State:          %s\n", vm->state);
	printf("Guest agent:    %s\n", vm->agent_connected ? "connected" :
	    "not connected");
	printf("Connections:    %u\n", vm->connections);
	printf("Volumes:        %zu\n", vm->n_volumes);
	for (i = 0; i < vm->n_volumes; i++) {
		v = vm->volumes[i];
		printf("  %s  %s  %s  %s  ", v->uuid, v->name, v->backend,
		    v->locator);
		hostctl_print_disks(v);
		if (*v->node != '\0')
			printf("  node=%s", v->node);
		printf("\n");
	}
}

/* Print a VM reply as text or JSON. */
static int
hostctl_show_reply(struct hostctl *hc, const Evg__Envelope *rep,
    const char *arg)
{
	json_object	*o;

	(void)arg;
	if (rep->reply->result_case != EVG__REPLY__RESULT_VM)
		return (hostctl_fail(hc, EVG_INTERNAL,
		    "the daemon's reply carries no VM"));
	if (hc->json) {
		o = json_object_new_object();
		json_object_object_add(o, "vm", jsonout_vm(rep->reply->vm));
		jsonout_print(stdout, o);
	} else
		hostctl_print_vm(rep->reply->vm);
	return (0);
}

/* Parse a CID argument; 0 when none. */
static unsigned int
hostctl_cid(const char *s)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n > 0xffffffffUL)
		hostctl_usage_error("--cid: '%s' is not a number", s);
	return ((unsigned int)n);
}

/* Parse a --snapshot-budget: BYTES with an optional K/M/G/T suffix. */
static uint64_t
hostctl_budget(const char *s, int allow_none)
{
	static const char	 units[] = "KMGT";
	const char		*u;
	char			*end;
	unsigned long long	 n;
	int			 shift;

	if (allow_none && strcmp(s, "none") == 0)
		return (0);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno != 0)
		n = 0, end = (char *)"?";
	if (*end != '\0' && end[1] == '\0' &&
	    (u = strchr(units, *end)) != NULL) {
		shift = 10 * (int)(u - units + 1);
		if (n > (UINT64_MAX >> shift))
			hostctl_usage_error("--snapshot-budget: '%s' is too "
			    "large", s);
		n <<= shift;
		end++;
	}
	if (*end != '\0' || n == 0)
		hostctl_usage_error("--snapshot-budget: '%s' is not a size "
		    "in bytes above 0 (e.g. 2147483648 or 2G%s)", s,
		    allow_none ? "; 'none' removes the budget" : "");
	return (n);
}

/* Add a field name to an update's list (string literals, not owned). */
static void
hostctl_field(Evg__VmUpdateRequest *up, const char *name)
{
	size_t	i;

	for (i = 0; i < up->n_fields; i++)
		if (strcmp(up->fields[i], name) == 0)
			return;
	up->fields = xreallocarray(up->fields, up->n_fields + 1,
	    sizeof *up->fields);
	up->fields[up->n_fields++] = (char *)name;
}

/*
 * The options of vm add and vm update into vm (strings borrowed from
 * argv; volumes allocated).  For an update (up != NULL) each option names
 * the field it changes, an empty path clears it, and the UUID is the one
 * argument.  Returns 0, or an exit code after saying why.
 */
static int
hostctl_vm_opts(struct hostctl *hc, int argc, char **argv, Evg__VmInfo *vm,
    Evg__VmUpdateRequest *up)
{
	static const struct option longopts[] = {
		{ "uuid", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "cid", required_argument, NULL, 'c' },
		{ "hybrid-socket", required_argument, NULL, 'H' },
		{ "qmp", required_argument, NULL, 'q' },
		{ "qmp-agent", required_argument, NULL, 'a' },
		{ "snapshot-budget", required_argument, NULL, 'b' },
		{ "state", required_argument, NULL, 's' },
		{ "volume", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*verb = up != NULL ? "vm update" : "vm add";
	Evg__Volume	*v;
	char		*cause, msg[96];
	int		 ch;

	optind = 0;	/* re-initialise: options may follow arguments */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (up != NULL && (ch == 'u' || ch == 's'))
			hostctl_usage_error("%s: --%s is not an option here%s",
			    verb, ch == 'u' ? "uuid" : "state", ch == 'u' ?
			    " (the UUID is the argument)" : " (use vm state)");
		switch (ch) {
		case 'u':
			vm->uuid = optarg;
			break;
		case 'n':
			vm->name = optarg;
			break;
		case 'c':
			if ((vm->cid = hostctl_cid(optarg)) == 0) {
				snprintf(msg, sizeof msg, "cid: 0 is reserved "
				    "(guest CIDs are %u..%u)", CID_MIN,
				    CID_MAX);
				return (hostctl_fail(hc, EVG_INVALID_ARGUMENT,
				    msg));
			}
			break;
		case 'H':
			vm->hybrid_socket = optarg;
			break;
		case 'q':
			vm->qmp = optarg;
			break;
		case 'a':
			vm->qmp_agent = optarg;
			break;
		case 'b':
			vm->snapshot_budget = hostctl_budget(optarg,
			    up != NULL);
			break;
		case 's':
			vm->state = optarg;
			break;
		case 'v':
			if ((v = volspec_parse(optarg, &cause)) == NULL) {
				fprintf(stderr, "eve-guest-hostctl: %s\n",
				    cause);
				free(cause);
				return (EXIT_USAGE);
			}
			vm->volumes = xreallocarray(vm->volumes,
			    vm->n_volumes + 1, sizeof *vm->volumes);
			vm->volumes[vm->n_volumes++] = v;
			break;
		default:
			hostctl_usage_error("%s: bad option", verb);
		}
		if (up != NULL)
			hostctl_field(up, ch == 'n' ? "name" : ch == 'c' ?
			    "cid" : ch == 'H' ? "hybrid_socket" : ch == 'q' ?
			    "qmp" : ch == 'a' ? "qmp_agent" : ch == 'b' ?
			    "snapshot_budget" : "volumes");
	}
	if (up != NULL) {
		if (optind != argc - 1)
			hostctl_usage_error("vm update: expected one VM UUID "
			    "and at least one option");
		vm->uuid = argv[optind];
		if (up->n_fields == 0)
			hostctl_usage_error("vm update: nothing to change");
		return (0);
	}
	if (optind != argc)
		hostctl_usage_error("vm add: unexpected argument '%s'",
		    argv[optind]);
	if (*vm->uuid == '\0' || *vm->name == '\0')
		hostctl_usage_error("vm add: --uuid and --name are required");
	return (0);
}

/* Free the volumes hostctl_vm_opts() parsed. */
static void
hostctl_vm_opts_free(Evg__VmInfo *vm)
{
	size_t	i;

	for (i = 0; i < vm->n_volumes; i++)
		volspec_free(vm->volumes[i]);
	free(vm->volumes);
}

/* vm add. */
static int
hostctl_vm_add(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmAddRequest	 add = EVG__VM_ADD_REQUEST__INIT;
	Evg__VmInfo		 vm = EVG__VM_INFO__INIT;
	int			 rc;

	if ((rc = hostctl_vm_opts(hc, argc, argv, &vm, NULL)) == 0) {
		add.vm = &vm;
		env.body_case = EVG__ENVELOPE__BODY_VM_ADD;
		env.vm_add = &add;
		rc = hostctl_request(hc, &env, hostctl_show_reply, NULL);
	}
	hostctl_vm_opts_free(&vm);
	return (rc);
}

/* vm update UUID OPTION... */
static int
hostctl_vm_update(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmUpdateRequest	 up = EVG__VM_UPDATE_REQUEST__INIT;
	Evg__VmInfo		 vm = EVG__VM_INFO__INIT;
	int			 rc;

	if ((rc = hostctl_vm_opts(hc, argc, argv, &vm, &up)) == 0) {
		up.vm = &vm;
		env.body_case = EVG__ENVELOPE__BODY_VM_UPDATE;
		env.vm_update = &up;
		rc = hostctl_request(hc, &env, hostctl_show_reply, NULL);
	}
	free(up.fields);
	hostctl_vm_opts_free(&vm);
	return (rc);
}

/* Print the VM list (n records, every page's). */
static int
hostctl_print_vms(struct hostctl *hc, Evg__VmInfo *const *vms, size_t n)
{
	json_object		*o, *arr;
	const Evg__VmInfo	*vm;
	size_t			 i;

	if (hc->json) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(arr, jsonout_vm(vms[i]));
		o = json_object_new_object();
		json_object_object_add(o, "vms", arr);
		jsonout_print(stdout, o);
		return (0);
	}
	if (n == 0) {
		printf("no VMs registered\n");
		return (0);
	}
	printf("%-36s  %-20s  %10s  %-8s  %-5s  %s\n", "UUID", "NAME", "CID",
	    "STATE", "AGENT", "VOLUMES");
	for (i = 0; i < n; i++) {
		vm = vms[i];
		printf("%-36s  %-20s  ", vm->uuid, vm->name);
		if (vm->cid != 0)
			printf("%10u  ", vm->cid);
		else
			printf("%10s  ", "-");
		printf("%-8s  %-5s  %zu\n", vm->state,
		    vm->agent_connected ? "yes" : "no", vm->n_volumes);
	}
	return (0);
}

/* Say that VM uuid is removed. */
static int
hostctl_print_removed(struct hostctl *hc, const Evg__Envelope *rep,
    const char *uuid)
{
	json_object	*o;

	(void)rep;
	if (hc->json) {
		o = json_object_new_object();
		json_object_object_add(o, "removed",
		    json_object_new_string(uuid));
		jsonout_print(stdout, o);
	} else
		printf("removed VM %s\n", uuid);
	return (0);
}

/* vm remove UUID. */
static int
hostctl_vm_remove(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmRemoveRequest	 rm = EVG__VM_REMOVE_REQUEST__INIT;

	(void)argc;
	rm.uuid = argv[1];
	env.body_case = EVG__ENVELOPE__BODY_VM_REMOVE;
	env.vm_remove = &rm;
	return (hostctl_request(hc, &env, hostctl_print_removed, argv[1]));
}

/*
 * What a page of a list holds: its item count and next, or -1 when the
 * reply is not that list.
 */
typedef int (*hostctl_page_fn)(const Evg__Envelope *, size_t *,
    const char **);

/*
 * Send env again and again, *after set to the next of the page before,
 * until the last page; returns the pages (caller frees each and the
 * array; *npages of them, also on failure) or NULL with *rc set.
 */
static Evg__Envelope **
hostctl_pages(struct hostctl *hc, Evg__Envelope *env, char **after,
    hostctl_page_fn page, const char *what, size_t *npages, int *rc)
{
	Evg__Envelope	**pages = NULL;
	const char	 *next;
	size_t		  n;

	*npages = 0;
	*rc = 0;
	for (;;) {
		pages = xreallocarray(pages, *npages + 1, sizeof *pages);
		if ((pages[*npages] = hostctl_call(hc, env, rc)) == NULL)
			return (pages);
		if (page(pages[(*npages)++], &n, &next) == -1) {
			*rc = hostctl_fail(hc, EVG_INTERNAL, what);
			return (pages);
		}
		/* A page that does not move on would never end. */
		if (next[0] == '\0' || n == 0 || strcmp(next, *after) == 0)
			return (pages);
		*after = (char *)next;
	}
}

/* Free what hostctl_pages() returned. */
static void
hostctl_pages_free(Evg__Envelope **pages, size_t npages)
{
	size_t	i;

	for (i = 0; i < npages; i++)
		codec_free(pages[i]);
	free(pages);
}

/* A page of the VM list. */
static int
hostctl_vm_page(const Evg__Envelope *rep, size_t *n, const char **next)
{
	if (rep->reply->result_case != EVG__REPLY__RESULT_VM_LIST)
		return (-1);
	*n = rep->reply->vm_list->n_vms;
	*next = rep->reply->vm_list->next;
	return (0);
}

/* vm list: every page, then one table or document. */
static int
hostctl_vm_list(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmListRequest	 ls = EVG__VM_LIST_REQUEST__INIT;
	Evg__Envelope		**pages;
	Evg__VmInfo		**vms = NULL;
	size_t			 npages = 0, n = 0, i, j;
	int			 rc = 0;

	(void)argc;
	(void)argv;
	env.body_case = EVG__ENVELOPE__BODY_VM_LIST;
	env.vm_list = &ls;
	pages = hostctl_pages(hc, &env, &ls.after, hostctl_vm_page,
	    "the daemon's reply carries no VM list", &npages, &rc);
	if (rc != 0)
		goto out;
	for (i = 0; i < npages; i++)
		n += pages[i]->reply->vm_list->n_vms;
	vms = xcalloc(n + 1, sizeof *vms);
	for (i = 0, n = 0; i < npages; i++)
		for (j = 0; j < pages[i]->reply->vm_list->n_vms; j++)
			vms[n++] = pages[i]->reply->vm_list->vms[j];
	rc = hostctl_print_vms(hc, vms, n);
out:
	hostctl_pages_free(pages, npages);
	free(vms);
	return (rc);
}

/* vm show UUID. */
static int
hostctl_vm_show(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmShowRequest	 show = EVG__VM_SHOW_REQUEST__INIT;

	(void)argc;
	show.uuid = argv[1];
	env.body_case = EVG__ENVELOPE__BODY_VM_SHOW;
	env.vm_show = &show;
	return (hostctl_request(hc, &env, hostctl_show_reply, NULL));
}

/* vm state UUID STATE (the daemon checks the state's name). */
static int
hostctl_vm_state(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__VmStateRequest	 st = EVG__VM_STATE_REQUEST__INIT;

	(void)argc;
	st.uuid = argv[1];
	st.state = argv[2];
	env.body_case = EVG__ENVELOPE__BODY_VM_STATE;
	env.vm_state = &st;
	return (hostctl_request(hc, &env, hostctl_show_reply, NULL));
}

/* What a snapshot command asked, for the text of its answer. */
struct hostctl_snap_ask {
	const char	*verb;		/* NULL: the table of groups */
	int		 member;	/* delete --member */
	size_t		 nvols;		/* --volume given */
};

/* The volume names of g's members, joined by sep (caller frees). */
static char *
hostctl_group_volumes(const struct snapgroup *g, const char *sep)
{
	char	*s = NULL, *old;
	size_t	 i;

	for (i = 0; i < g->nmembers; i++) {
		old = s;
		xasprintf(&s, "%s%s%s", old != NULL ? old : "", i == 0 ? "" :
		    sep, hostctl_esc(*g->members[i]->volume_name != '\0' ?
		    g->members[i]->volume_name : g->members[i]->volume_uuid));
		free(old);
	}
	return (s != NULL ? s : xstrdup("-"));
}

/*
 * One group of a create, delete or rollback answer as text.  A group of
 * one reads as a single snapshot always has; a larger one says it is a
 * group and lists its members.
 */
static void
hostctl_print_group(const struct snapgroup *g, const struct hostctl_snap_ask *ask)
{
	const Evg__Snapshot	*s = g->members[0];
	char			 t[32], sz[32], *vols;
	size_t			 i;
	int			 scheduled, subset;

	scheduled = strcmp(g->state, "rollback-scheduled") == 0;
	jsonout_time(t, sizeof t, g->created);
	jsonout_size(sz, sizeof sz, g->size_bytes);
	if (g->size <= 1 && g->nmembers == 1) {
		if (scheduled)
			printf("rollback of volume %s to snapshot '%s' %s is "
			    "scheduled: the VM runs, so it is carried out when "
			    "the VM is reported stopped (restart the VM)\n",
			    hostctl_esc(s->volume_name), hostctl_esc(s->name),
			    s->uuid);
		else
			printf("%s snapshot '%s' %s of volume %s (%s, %s, %s)\n",
			    ask->verb, hostctl_esc(s->name), s->uuid,
			    hostctl_esc(s->volume_name), sz,
			    hostctl_esc(g->consistency), t);
		return;
	}
	vols = hostctl_group_volumes(g, ", ");
	/* A rollback's answer lists the members rolled back. */
	subset = ask->nvols != 0 && g->nmembers < g->size;
	if (ask->member)
		printf("deleted member %s (volume %s) of snapshot group '%s' "
		    "%s: the group is now partial\n", s->uuid, vols,
		    hostctl_esc(g->name), g->uuid);
	else if (scheduled && subset)
		printf("rollback of %zu of %u volumes (%s) of snapshot group "
		    "'%s' %s is scheduled, only those: the VM runs, so it is "
		    "carried out when the VM is reported stopped (restart the "
		    "VM)\n", g->nmembers, g->size, vols, hostctl_esc(g->name),
		    g->uuid);
	else if (scheduled)
		printf("rollback of volumes %s to snapshot group '%s' %s is "
		    "scheduled: the VM runs, so it is carried out when the VM "
		    "is reported stopped (restart the VM)\n", vols,
		    hostctl_esc(g->name), g->uuid);
	else if (subset)
		printf("rolled back %zu of %u volumes (%s) to snapshot group "
		    "'%s' %s, only those (%s, %s, %s)\n", g->nmembers, g->size,
		    vols, hostctl_esc(g->name), g->uuid, sz,
		    hostctl_esc(g->consistency), t);
	else
		printf("%s snapshot group '%s' %s of %zu volume%s (%s, %s, %s)"
		    "%s\n", ask->verb, hostctl_esc(g->name), g->uuid,
		    g->nmembers, g->nmembers == 1 ? "" : "s", sz,
		    hostctl_esc(g->consistency), t, g->partial ? ", partial" :
		    "");
	free(vols);
	for (i = 0; !ask->member && i < g->nmembers; i++) {
		s = g->members[i];
		printf("  volume %s: snapshot %s (%s)\n",
		    hostctl_esc(s->volume_name), s->uuid, jsonout_size(sz,
		    sizeof sz, s->size_bytes));
	}
}

/* The table of `snapshot list`: one row per group. */
static void
hostctl_print_table(const struct snapgroups *set)
{
	const struct snapgroup	*g;
	char			 t[32], sz[32], **vols;
	size_t			 i;
	int			 w = 12;

	if (set->n == 0) {
		printf("no snapshots\n");
		return;
	}
	vols = xcalloc(set->n, sizeof *vols);
	for (i = 0; i < set->n; i++) {
		vols[i] = hostctl_group_volumes(&set->groups[i], ",");
		if ((int)strlen(vols[i]) > w)
			w = (int)strlen(vols[i]);
	}
	if (w > 40)
		w = 40;
	printf("%-20s  %-24s  %-36s  %-*s  %10s  %-11s  %-10s  %s\n",
	    "CREATED (UTC)", "NAME", "UUID", w, "VOLUMES", "SIZE",
	    "CONSISTENCY", "ORIGIN", "STATE");
	for (i = 0; i < set->n; i++) {
		g = &set->groups[i];
		printf("%-20s  %-24s  %-36s  %-*s  %10s  %-11s  %-10s  %s",
		    jsonout_time(t, sizeof t, g->created), hostctl_esc(g->name),
		    g->uuid, w, vols[i], jsonout_size(sz, sizeof sz,
		    g->size_bytes), hostctl_esc(g->consistency),
		    hostctl_esc(g->origin), hostctl_esc(g->state));
		if (g->partial)
			printf("  partial (%zu of %u volumes)", g->nmembers,
			    g->size);
		printf("\n");
		free(vols[i]);
	}
	free(vols);
}

/* Print snapshots, folded into groups; returns the exit code. */
static int
hostctl_print_snaps(struct hostctl *hc, Evg__Snapshot **snaps, size_t n,
    const struct hostctl_snap_ask *ask)
{
	struct snapgroups	*set;
	size_t			 i;

	set = snapgroup_fold(snaps, n);
	if (hc->json)
		jsonout_print(stdout, jsonout_groups(set));
	else if (ask->verb == NULL)
		hostctl_print_table(set);
	else {
		for (i = 0; i < set->n; i++)
			hostctl_print_group(&set->groups[i], ask);
	}
	snapgroup_free(set);
	return (0);
}

/* A page of a snapshot list (or a workflow's answer: one page). */
static int
hostctl_snap_page(const Evg__Envelope *rep, size_t *n, const char **next)
{
	if (rep->reply->result_case != EVG__REPLY__RESULT_SNAPSHOT_LIST)
		return (-1);
	*n = rep->reply->snapshot_list->n_snapshots;
	*next = rep->reply->snapshot_list->next;
	return (0);
}

/*
 * Send env (a snapshot request), every page of its answer for a list,
 * and print the snapshots; returns the exit code.
 */
static int
hostctl_snap_pages(struct hostctl *hc, Evg__Envelope *env, char **after,
    const struct hostctl_snap_ask *ask)
{
	Evg__Envelope		**pages;
	Evg__Snapshot		**snaps = NULL;
	const Evg__SnapshotList	 *l;
	char			 *none = (char *)"";
	size_t			  npages, n = 0, i, j;
	int			  rc;

	pages = hostctl_pages(hc, env, after != NULL ? after : &none,
	    hostctl_snap_page, "the daemon's reply carries no snapshot list",
	    &npages, &rc);
	if (rc == 0) {
		for (i = 0; i < npages; i++) {
			l = pages[i]->reply->snapshot_list;
			snaps = xreallocarray(snaps, n + l->n_snapshots + 1,
			    sizeof *snaps);
			for (j = 0; j < l->n_snapshots; j++)
				snaps[n++] = l->snapshots[j];
		}
		rc = hostctl_print_snaps(hc, snaps, n, ask);
	}
	hostctl_pages_free(pages, npages);
	free(snaps);
	return (rc);
}

enum hostctl_snap_op {
	HOSTCTL_SNAP_CREATE,
	HOSTCTL_SNAP_LIST,
	HOSTCTL_SNAP_DELETE,
	HOSTCTL_SNAP_ROLLBACK,
};

/*
 * The snapshot subcommands: how many arguments (a snapshot) follow the
 * options and what they are for usage errors, whether the create options
 * (--name, --consistency, --idempotency-key, --hook-timeout) are valid,
 * whether --member is, how many --volume may be given, and the verb of
 * the text output (NULL: the table of groups).
 */
struct hostctl_snap_command {
	const char		*name;
	enum hostctl_snap_op	 op;
	int			 nargs;
	const char		*args;
	int			 create_opts;
	int			 member_opt;
	size_t			 max_volumes;
	const char		*verb;
};

static const struct hostctl_snap_command hostctl_snap_commands[] = {
	{ "create", HOSTCTL_SNAP_CREATE, 0, "no arguments", 1, 0, SIZE_MAX,
	    "created" },
	{ "list", HOSTCTL_SNAP_LIST, 0, "no arguments", 0, 0, 0, NULL },
	{ "delete", HOSTCTL_SNAP_DELETE, 1, "a snapshot group", 0, 1, 0,
	    "deleted" },
	{ "rollback", HOSTCTL_SNAP_ROLLBACK, 1, "a snapshot group", 0, 0,
	    SIZE_MAX, "rolled back to" },
};

/*
 * An unknown subcommand's options and arguments are checked as delete's
 * before it is refused as unknown: the errors hostctl has always given.
 */
static const struct hostctl_snap_command hostctl_snap_unknown = {
	NULL, HOSTCTL_SNAP_DELETE, 1, "a snapshot group", 0, 1, 0, NULL
};

/* snapshot create|list|delete|rollback. */
static int
hostctl_snapshot(struct hostctl *hc, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vm", required_argument, NULL, 'm' },
		{ "volume", required_argument, NULL, 'v' },
		{ "name", required_argument, NULL, 'n' },
		{ "consistency", required_argument, NULL, 'c' },
		{ "idempotency-key", required_argument, NULL, 'k' },
		{ "hook-timeout", required_argument, NULL, 't' },
		{ "member", no_argument, NULL, 'M' },
		{ "online", no_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 }
	};
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__SnapshotCreateRequest	 cr = EVG__SNAPSHOT_CREATE_REQUEST__INIT;
	Evg__SnapshotListRequest	 ls = EVG__SNAPSHOT_LIST_REQUEST__INIT;
	Evg__SnapshotDeleteRequest	 del = EVG__SNAPSHOT_DELETE_REQUEST__INIT;
	Evg__SnapshotRollbackRequest	 rb =
					    EVG__SNAPSHOT_ROLLBACK_REQUEST__INIT;
	const struct hostctl_snap_command *cmd = &hostctl_snap_unknown;
	struct hostctl_snap_ask		 ask;
	const char			*sub, *vm = NULL, *name = NULL;
	const char			*cons = NULL, *key = NULL;
	char				*end, **after = NULL;
	long				 hook_s = 0;
	char				**vols = NULL;
	size_t				 i, nvols = 0;
	int				 ch, rc, member = 0, online = 0;

	if (argc < 2)
		hostctl_usage_error("snapshot: expected create, list, delete "
		    "or rollback");
	sub = argv[1];
	for (i = 0; i < HOSTCTL_NITEMS(hostctl_snap_commands); i++)
		if (strcmp(sub, hostctl_snap_commands[i].name) == 0)
			cmd = &hostctl_snap_commands[i];
	argc--;
	argv++;
	optind = 0;	/* re-initialise: options may follow arguments */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			vm = optarg;
			break;
		case 'v':
			vols = xreallocarray(vols, nvols + 1, sizeof *vols);
			vols[nvols++] = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'c':
			cons = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 't':
			hook_s = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || hook_s < 1 ||
			    hook_s > 1800)
				hostctl_usage_error("--hook-timeout: '%s' is not "
				    "1..1800 seconds", optarg);
			break;
		case 'M':
			member = 1;
			break;
		case 'O':
			online = 1;
			break;
		default:
			hostctl_usage_error("snapshot %s: bad option", sub);
		}
	}
	if (vm == NULL)
		hostctl_usage_error("snapshot %s: --vm UUID is required", sub);
	if (argc - optind != cmd->nargs)
		hostctl_usage_error("snapshot %s: expected %s", sub, cmd->args);
	if ((!cmd->create_opts && (name != NULL || cons != NULL ||
	    key != NULL || hook_s != 0)) || nvols > cmd->max_volumes ||
	    (member && !cmd->member_opt) ||
	    (online && cmd->op != HOSTCTL_SNAP_ROLLBACK))
		hostctl_usage_error("snapshot %s: option not valid here", sub);
	if (cmd->name == NULL)
		hostctl_usage_error("snapshot: unknown subcommand '%s'", sub);
	switch (cmd->op) {
	case HOSTCTL_SNAP_CREATE:
		cr.vm_uuid = (char *)vm;
		cr.volume_uuids = vols;
		cr.n_volume_uuids = nvols;
		cr.name = (char *)(name != NULL ? name : "");
		cr.consistency = (char *)(cons != NULL ? cons : "crash");
		cr.idempotency_key = (char *)(key != NULL ? key : "");
		cr.hook_timeout_ms = (uint32_t)hook_s * 1000;
		env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_CREATE;
		env.snapshot_create = &cr;
		break;
	case HOSTCTL_SNAP_LIST:
		ls.vm_uuid = (char *)vm;
		ls.paged = 1;
		after = &ls.after;
		env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_LIST;
		env.snapshot_list = &ls;
		break;
	case HOSTCTL_SNAP_DELETE:
		del.vm_uuid = (char *)vm;
		del.snapshot = argv[optind];
		del.member = member;
		env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_DELETE;
		env.snapshot_delete = &del;
		break;
	case HOSTCTL_SNAP_ROLLBACK:
		rb.vm_uuid = (char *)vm;
		rb.snapshot = argv[optind];
		rb.volume_uuids = vols;
		rb.n_volume_uuids = nvols;
		rb.online = online;
		/* A daemon from before groups reads only this one. */
		rb.volume_uuid = nvols == 1 ? vols[0] : (char *)"";
		env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_ROLLBACK;
		env.snapshot_rollback = &rb;
		break;
	}
	ask.verb = cmd->verb;
	ask.member = member;
	ask.nvols = nvols;
	rc = hostctl_snap_pages(hc, &env, after, &ask);
	free(vols);
	return (rc);
}

/* One event as a text line or a compact JSON object. */
static void
hostctl_print_event(struct hostctl *hc, const Evg__Event *e)
{
	json_object	*o;
	char		 t[32];

	jsonout_time(t, sizeof t, e->time);
	if (hc->json) {
		o = json_object_new_object();
		json_object_object_add(o, "seq",
		    json_object_new_uint64(e->seq));
		json_object_object_add(o, "time", json_object_new_string(t));
		json_object_object_add(o, "kind",
		    json_object_new_string(e->kind));
		json_object_object_add(o, "vm",
		    json_object_new_string(e->vm_uuid));
		if (*e->operation != '\0')
			json_object_object_add(o, "operation",
			    json_object_new_string(e->operation));
		if (*e->snapshot_uuid != '\0')
			json_object_object_add(o, "snapshot_uuid",
			    json_object_new_string(e->snapshot_uuid));
		if (*e->snapshot_name != '\0')
			json_object_object_add(o, "snapshot_name",
			    json_object_new_string(e->snapshot_name));
		json_object_object_add(o, "code", json_object_new_int(e->code));
		json_object_object_add(o, "message",
		    json_object_new_string(e->message));
		printf("%s\n", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else
		printf("%s %-18s vm %s%s%s%s%s%s: %s\n", t, hostctl_esc(e->kind),
		    hostctl_esc(e->vm_uuid), *e->operation != '\0' ? " " : "",
		    hostctl_esc(e->operation),
		    *e->snapshot_name != '\0' ? " '" : "",
		    hostctl_esc(e->snapshot_name),
		    *e->snapshot_name != '\0' ? "'" : "",
		    hostctl_esc(e->message));
	fflush(stdout);
}

/* events [--follow]: the backlog, then the stream. */
static int
hostctl_events(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT, *rep;
	Evg__EventsRequest	 er = EVG__EVENTS_REQUEST__INIT;
	struct client		*c;
	char			*cause;
	size_t			 i;
	int			 code;

	if (argc == 2 && strcmp(argv[1], "--follow") == 0)
		er.follow = 1;
	else if (argc != 1)
		hostctl_usage_error("events: expected [--follow]");
	c = hostctl_open(hc, &code, &cause);
	if (c == NULL) {
		code = hostctl_fail(hc, code, cause);
		free(cause);
		return (code);
	}
	env.body_case = EVG__ENVELOPE__BODY_EVENTS;
	env.events = &er;
	rep = client_call(c, &env, NULL, NULL, &code, &cause);
	if (rep == NULL || code != EVG_OK ||
	    rep->reply->result_case != EVG__REPLY__RESULT_EVENT_LIST) {
		code = hostctl_fail(hc, rep == NULL ? CLIENT_UNREACHABLE :
		    code != EVG_OK ? code : EVG_INTERNAL, cause != NULL ? cause :
		    "bad reply");
		free(cause);
		codec_free(rep);
		client_close(c);
		return (code);
	}
	/* A paged backlog says what was left out. */
	if (rep->reply->status != NULL && *rep->reply->status->message != '\0')
		fprintf(stderr, "eve-guest-hostctl: note: %s\n",
		    hostctl_esc(rep->reply->status->message));
	for (i = 0; i < rep->reply->event_list->n_events; i++)
		hostctl_print_event(hc, rep->reply->event_list->events[i]);
	codec_free(rep);
	while (er.follow) {
		if ((rep = client_recv(c, -1, &cause)) == NULL) {
			code = hostctl_fail(hc, CLIENT_UNREACHABLE, cause);
			free(cause);
			client_close(c);
			return (code);
		}
		if (rep->body_case == EVG__ENVELOPE__BODY_EVENT)
			hostctl_print_event(hc, rep->event);
		codec_free(rep);
	}
	client_close(c);
	return (0);
}

/* Print the guest facts reply as text or JSON. */
static int
hostctl_print_guest_info(struct hostctl *hc, const Evg__Envelope *rep,
    const char *arg)
{
	const Evg__GuestInfo	*g;
	char			 a[32], b[32];
	size_t			 i, j;

	(void)arg;
	if (rep->reply->result_case != EVG__REPLY__RESULT_GUEST_INFO)
		return (hostctl_fail(hc, EVG_INTERNAL, "no guest facts in "
		    "the reply"));
	g = rep->reply->guest_info;
	if (hc->json) {
		jsonout_print(stdout, jsonout_guest_info(g));
		return (0);
	}
	printf("Agent:     eve-guest-agent %s\n",
	    hostctl_esc(g->agent_version));
	printf("OS:        %s\n", hostctl_esc(g->os));
	printf("Kernel:    %s\n", hostctl_esc(g->kernel));
	printf("Hostname:  %s\n", hostctl_esc(g->hostname));
	printf("Uptime:    %llu s\n", (unsigned long long)g->uptime_seconds);
	printf("Filesystems:\n");
	for (i = 0; i < g->n_filesystems; i++)
		printf("  %-24s %-6s %s  %s used of %s\n",
		    hostctl_esc(g->filesystems[i]->mountpoint),
		    hostctl_esc(g->filesystems[i]->fstype),
		    hostctl_esc(g->filesystems[i]->source),
		    jsonout_size(a, sizeof a, g->filesystems[i]->used_bytes),
		    jsonout_size(b, sizeof b, g->filesystems[i]->size_bytes));
	printf("Disks:\n");
	for (i = 0; i < g->n_disks; i++) {
		printf("  %-12s", hostctl_esc(g->disks[i]->device));
		for (j = 0; j < g->disks[i]->n_ids; j++)
			printf(" %s:%s", hostctl_esc(g->disks[i]->ids[j]->kind),
			    hostctl_esc(g->disks[i]->ids[j]->value));
		printf("\n");
	}
	return (0);
}

/* guest info --vm UUID. */
static int
hostctl_guest(struct hostctl *hc, int argc, char **argv)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__GuestInfoRequest	 gi = EVG__GUEST_INFO_REQUEST__INIT;

	if (argc != 4 || strcmp(argv[1], "info") != 0 ||
	    strcmp(argv[2], "--vm") != 0)
		hostctl_usage_error("guest: expected info --vm UUID");
	gi.vm_uuid = argv[3];
	env.body_case = EVG__ENVELOPE__BODY_VM_GUEST_INFO;
	env.vm_guest_info = &gi;
	return (hostctl_request(hc, &env, hostctl_print_guest_info, NULL));
}

/* The vm subcommands. */
static const struct hostctl_command hostctl_vm_commands[] = {
	{ "add", hostctl_vm_add, -1, NULL },
	{ "update", hostctl_vm_update, -1, NULL },
	{ "remove", hostctl_vm_remove, 1, "a VM UUID" },
	{ "list", hostctl_vm_list, 0, "no arguments" },
	{ "show", hostctl_vm_show, 1, "a VM UUID" },
	{ "state", hostctl_vm_state, 2, "UUID stopped|starting|running" },
};

/* Dispatch "vm SUB ..." through hostctl_vm_commands[]. */
static int
hostctl_vm(struct hostctl *hc, int argc, char **argv)
{
	const struct hostctl_command	*cmd;

	if (argc < 2)
		hostctl_usage_error("vm: expected add, update, remove, list, "
		    "show or state");
	cmd = hostctl_find(hostctl_vm_commands,
	    HOSTCTL_NITEMS(hostctl_vm_commands), argv[1]);
	if (cmd == NULL)
		hostctl_usage_error("vm: unknown subcommand '%s'", argv[1]);
	if (cmd->nargs != -1 && argc - 2 != cmd->nargs)
		hostctl_usage_error("vm %s: expected %s", cmd->name, cmd->args);
	return (cmd->run(hc, argc - 1, argv + 1));
}

/* The commands. */
static const struct hostctl_command hostctl_commands[] = {
	{ "vm", hostctl_vm, -1, NULL },
	{ "snapshot", hostctl_snapshot, -1, NULL },
	{ "events", hostctl_events, -1, NULL },
	{ "guest", hostctl_guest, -1, NULL },
};

/* Parse the global options, then run the command. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct hostctl			 hc;
	const struct hostctl_command	*cmd;
	const char			*sock = CONTROL_SOCKET_DEFAULT;
	char				*cause, *end, *addr;
	long				 t;
	int				 ch;

	signal(SIGPIPE, SIG_IGN);
	memset(&hc, 0, sizeof hc);
	hc.timeout_ms = 10000;
	hc.op_timeout_ms = HOSTCTL_OP_TIMEOUT_MS;
	if (getenv("EVE_GUEST_HOSTCTL_SOCKET") != NULL)
		sock = getenv("EVE_GUEST_HOSTCTL_SOCKET");
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			hc.json = 1;
			break;
		case 't':
			t = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || t < 1 ||
			    t > 3600)
				hostctl_usage_error("--timeout: '%s' is not "
				    "1..3600 seconds", optarg);
			hc.timeout_ms = hc.op_timeout_ms = (int)t * 1000;
			break;
		case 'h':
			hostctl_usage(stdout);
			return (0);
		case 'V':
			printf("eve-guest-hostctl %s\n", EVG_VERSION);
			return (0);
		default:
			hostctl_usage_error("bad option");
		}
	}
	xasprintf(&addr, "unix:%s", sock);
	if (addr_parse(addr, &hc.addr, &cause) != 0)
		hostctl_usage_error("--socket: %s", cause);
	free(addr);
	if (optind == argc)
		hostctl_usage_error("a command is required");
	argc -= optind;
	argv += optind;
	cmd = hostctl_find(hostctl_commands, HOSTCTL_NITEMS(hostctl_commands),
	    argv[0]);
	if (cmd == NULL)
		hostctl_usage_error("unknown command '%s'", argv[0]);
	return (cmd->run(&hc, argc, argv));
}
