/*
 * eve-guest-hostd: the host daemon.  Parses the configuration before
 * anything else (so -n and errors are reported on the terminal), opens the
 * listeners, then serves guests and control clients from one libevent loop.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "atomicfile.h"
#include "config.h"
#include "control_dispatch.h"
#include "guest_dispatch.h"
#include "log.h"
#include "registry.h"
#include "proc.h"
#include "qmp.h"
#include "server.h"
#include "workflow.h"
#include "events.h"
#include "transport.h"
#include "xmalloc.h"

/* Descriptors kept for files, children and the event loop. */
#define HOSTD_FD_SPARE	256

struct hostd {
	struct event_base	*base;
	struct config		 cf;
	const char		*config_path;
	int			 config_must_exist;
	struct registry		*reg;
	struct server		 srv;
};

/* Print usage to f. */
static void
hostd_usage(FILE *f)
{
	fprintf(f,
"usage: eve-guest-hostd [-fnv] [-c CONFIG] [--state-dir DIR]\n"
"                       [--control-socket PATH] [--vsock-port N] [--no-vsock]\n"
"\n"
"EVE host daemon for guest-consistent VM snapshots.  Guests connect over\n"
"AF_VSOCK (or a VM's hybrid vsock Unix socket); pillar and\n"
"eve-guest-hostctl use the control socket.\n"
"\n"
"  -f, --foreground        stay in the foreground and log to stderr\n"
"  -n, --check             check the configuration and exit\n"
"  -v, --verbose           debug logging\n"
"  -c, --config FILE       configuration file (default %s)\n"
"      --state-dir DIR     registry and catalogs (default %s,\n"
"                          or %s when /persist is missing)\n"
"      --control-socket P  control socket (default %s)\n"
"      --vsock-port N      AF_VSOCK port and hybrid socket suffix (default 2210)\n"
"      --no-vsock          do not listen on AF_VSOCK (hybrid sockets only)\n"
"  -h, --help              this help\n"
"      --version           print the version\n",
	    CONFIG_PATH_DEFAULT, STATE_DIR_DEFAULT, STATE_DIR_FALLBACK,
	    CONTROL_SOCKET_DEFAULT);
}

/* Parse a port number for --vsock-port; exits 2 on a bad one. */
static unsigned int
hostd_port(const char *s)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || n == 0 ||
	    n > 65535) {
		fprintf(stderr, "eve-guest-hostd: --vsock-port: '%s' is not a "
		    "port number (1..65535)\n", s);
		exit(2);
	}
	return ((unsigned int)n);
}

/* SIGTERM/SIGINT: leave the loop; cleanup runs in main. */
static void
hostd_signal_exit(evutil_socket_t sig, short events, void *arg)
{
	struct hostd	*h = arg;

	(void)events;
	log_info("signal %d: shutting down", (int)sig);
	event_base_loopexit(h->base, NULL);
}

/*
 * SIGHUP: re-read the configuration and apply the limits that can change
 * safely while running (timeouts and caps; sockets and paths need a
 * restart).  A bad file changes nothing.
 */
static void
hostd_signal_reload(evutil_socket_t sig, short events, void *arg)
{
	struct hostd	*h = arg;
	struct config	 n;
	char		*cause;

	(void)sig;
	(void)events;
	config_defaults(&n);
	if (h->config_path != NULL && config_load(&n, h->config_path,
	    h->config_must_exist, &cause) != 0) {
		log_warnx("reload: %s; keeping the running configuration",
		    cause);
		free(cause);
		config_free(&n);
		return;
	}
	h->cf.max_frame_guest = n.max_frame_guest;
	h->cf.max_frame_control = n.max_frame_control;
	h->cf.max_output = n.max_output;
	h->cf.handshake_timeout = n.handshake_timeout;
	h->cf.idle_timeout = n.idle_timeout;
	h->cf.ping_interval = n.ping_interval;
	h->cf.max_conns_per_vm = n.max_conns_per_vm;
	h->cf.max_conns = n.max_conns;
	h->cf.max_control_conns = n.max_control_conns;
	memcpy(h->cf.control_uids, n.control_uids, sizeof n.control_uids);
	h->cf.ncontrol_uids = n.ncontrol_uids;
	h->cf.backend_timeout = n.backend_timeout;
	h->cf.qmp_timeout = n.qmp_timeout;
	h->cf.space_reserve = n.space_reserve;
	h->cf.max_parallel_ops = n.max_parallel_ops;
	h->cf.max_queued_per_vm = n.max_queued_per_vm;
	h->cf.queue_wait = n.queue_wait;
	h->cf.freeze_lease_ms = n.freeze_lease_ms;
	h->cf.guest_timeout = n.guest_timeout;
	h->cf.reconcile_retry = n.reconcile_retry;
	h->cf.unplug_ms = n.unplug_ms;
	/* Commands are looked up at each use: swapping them is safe. */
	config_move_commands(&h->cf, &n);
	config_free(&n);
	/* More slots may let waiting requests start now. */
	workflow_limits_changed();
	log_warnx("reload: configuration re-read from %s", h->config_path);
}

/* Create the directory that will hold path (a socket). */
static int
hostd_parent_dir(const char *path, char **cause)
{
	char	*dir, *slash;
	int	 rc;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		rc = atomicfile_mkdirs(dir, 0755, cause);
	} else
		rc = 0;
	free(dir);
	return (rc);
}

/* Report a start-up failure (cause is freed), release everything, exit 1. */
__attribute__((noreturn)) static void
hostd_fail(struct hostd *h, char *cause)
{
	fprintf(stderr, "eve-guest-hostd: %s\n", cause);
	free(cause);
	if (h->base != NULL)
		event_base_free(h->base);
	registry_free(h->reg);
	config_free(&h->cf);
	exit(1);
}

/* Where the server hands each channel's requests. */
static const struct server_dispatch hostd_dispatch = {
	&guest_dispatch,
	&control_dispatch,
};

/*
 * Each VM with a hybrid socket holds a listening descriptor, and each
 * connection one more: raise the soft RLIMIT_NOFILE to what a full
 * registry needs (up to the hard limit), and say how many VMs fit.
 */
static void
hostd_raise_nofile(const struct config *cf)
{
	struct rlimit	rl;
	rlim_t		want, spare = (rlim_t)cf->max_conns + HOSTD_FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	want = (rlim_t)REGISTRY_MAX_VMS + spare;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (want > rl.rlim_cur) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE %llu",
			    (unsigned long long)want);
		else if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
	}
	if (rl.rlim_cur < (rlim_t)REGISTRY_MAX_VMS + spare)
		log_warnx("file descriptors: %llu (the hard limit): room for "
		    "about %llu VMs with hybrid sockets, not %d; raise "
		    "LimitNOFILE / ulimit -Hn", (unsigned long long)rl.rlim_cur,
		    rl.rlim_cur > spare ? (unsigned long long)(rl.rlim_cur -
		    spare) : 0ULL, REGISTRY_MAX_VMS);
	else
		log_info("file descriptors: %llu, room for %d VMs with hybrid "
		    "sockets and %u connections", (unsigned long long)
		    rl.rlim_cur, REGISTRY_MAX_VMS, cf->max_conns);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "control-socket", required_argument, NULL, 'C' },
		{ "vsock-port", required_argument, NULL, 'P' },
		{ "no-vsock", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct hostd	 h;
	struct event	*ev_term, *ev_int, *ev_hup;
	const char	*state_dir = NULL, *control = NULL;
	char		*cause, *path;
	unsigned int	 port = 0;
	int		 ch, foreground = 0, check = 0, verbose = 0;
	int		 no_vsock = 0;

	memset(&h, 0, sizeof h);
	h.config_path = CONFIG_PATH_DEFAULT;
	while ((ch = getopt_long(argc, argv, "fnvc:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'c':
			h.config_path = optarg;
			h.config_must_exist = 1;
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 'C':
			control = optarg;
			break;
		case 'P':
			port = hostd_port(optarg);
			break;
		case 'N':
			no_vsock = 1;
			break;
		case 'h':
			hostd_usage(stdout);
			return (0);
		case 'V':
			printf("eve-guest-hostd %s\n", EVG_VERSION);
			return (0);
		default:
			fprintf(stderr, "eve-guest-hostd: try --help\n");
			return (2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "eve-guest-hostd: unexpected argument '%s' "
		    "(try --help)\n", argv[optind]);
		return (2);
	}
	log_init("eve-guest-hostd", LOG_TO_STDERR, verbose + 1);

	config_defaults(&h.cf);
	if (config_load(&h.cf, h.config_path, h.config_must_exist,
	    &cause) != 0)
		hostd_fail(&h, cause);
	if (state_dir != NULL) {
		free(h.cf.state_dir);
		h.cf.state_dir = xstrdup(state_dir);
	}
	if (control != NULL) {
		free(h.cf.control_socket);
		h.cf.control_socket = xstrdup(control);
	}
	if (port != 0)
		h.cf.vsock_port = port;
	if (no_vsock)
		h.cf.vsock = 0;
	config_state_dir(&h.cf);
	registry_allow_loopback(h.cf.allow_loopback_cid);
	if (h.cf.state_dir[0] != '/' || h.cf.control_socket[0] != '/') {
		xasprintf(&cause, "--state-dir and --control-socket need "
		    "absolute paths (the daemon runs from /)");
		hostd_fail(&h, cause);
	}
	if (strlen(h.cf.control_socket) >= UNIX_PATH_MAX) {
		xasprintf(&cause, "control socket path longer than %zu bytes",
		    UNIX_PATH_MAX - 1);
		hostd_fail(&h, cause);
	}
	if (check) {
		printf("configuration OK\n");
		config_free(&h.cf);
		return (0);
	}

	if (atomicfile_mkdirs(h.cf.state_dir, 0700, &cause) != 0 ||
	    hostd_parent_dir(h.cf.control_socket, &cause) != 0)
		hostd_fail(&h, cause);
	xasprintf(&path, "%s/%s", h.cf.state_dir, REGISTRY_FILE);
	h.reg = registry_create(path);
	free(path);
	if (registry_load(h.reg, &cause) != 0) {
		xasprintf(&path, "cannot load the registry: %s", cause);
		free(cause);
		hostd_fail(&h, path);
	}

	hostd_raise_nofile(&h.cf);
	signal(SIGPIPE, SIG_IGN);
	if ((h.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	proc_init(h.base);
	if (workflow_init(h.base, &h.cf, h.reg, &h.srv.guests.link,
	    &cause) != 0)
		hostd_fail(&h, cause);
	if (server_start(&h.srv, h.base, &h.cf, h.reg, &hostd_dispatch,
	    &cause) != 0) {
		server_stop(&h.srv);
		workflow_shutdown();
		hostd_fail(&h, cause);
	}
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("eve-guest-hostd", LOG_TO_SYSLOG, verbose + 1);
		event_reinit(h.base);
	}
	ev_term = evsignal_new(h.base, SIGTERM, hostd_signal_exit, &h);
	ev_int = evsignal_new(h.base, SIGINT, hostd_signal_exit, &h);
	ev_hup = evsignal_new(h.base, SIGHUP, hostd_signal_reload, &h);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);

	log_info("eve-guest-hostd %s ready: control %s, vsock %s%u, state %s, "
	    "%zu VMs", EVG_VERSION, h.cf.control_socket,
	    h.cf.vsock ? "port " : "off, hybrid suffix _", h.cf.vsock_port,
	    h.cf.state_dir, h.reg->count);
	workflow_reconcile_all();
	event_base_dispatch(h.base);

	workflow_shutdown();
	qmp_shutdown();
	events_shutdown();
	proc_shutdown();
	server_stop(&h.srv);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(h.base);
	registry_free(h.reg);
	config_free(&h.cf);
	return (0);
}
