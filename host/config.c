/* Host daemon configuration file parsing and defaults. */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_kind.h"
#include "config.h"
#include "frame.h"
#include "transport.h"
#include "xmalloc.h"

enum config_type {
	CONFIG_UINT,
	CONFIG_BOOL,
	CONFIG_PATH,
	CONFIG_UIDS,
	CONFIG_COMMAND,		/* a bare command name or an absolute path */
	CONFIG_MIB,		/* MiB in the file, bytes in struct config */
};

/*
 * Every key, its type, bounds and where it is stored.  The backends'
 * command keys (qemu_img, zfs) are not here: they come from
 * backend_kinds[] (config_backend_key()).
 */
static const struct config_key {
	const char		*name;
	enum config_type	 type;
	unsigned long		 min;
	unsigned long		 max;
	size_t			 offset;
	size_t			 size;
} config_keys[] = {
	{ "state_dir", CONFIG_PATH, 0, 0,
	    offsetof(struct config, state_dir), 0 },
	{ "control_socket", CONFIG_PATH, 0, 0,
	    offsetof(struct config, control_socket), 0 },
	{ "control_uids", CONFIG_UIDS, 0, 0, 0, 0 },
	{ "vsock", CONFIG_BOOL, 0, 1, offsetof(struct config, vsock),
	    sizeof(int) },
	{ "vsock_port", CONFIG_UINT, 1, 65535,
	    offsetof(struct config, vsock_port), sizeof(unsigned int) },
	{ "max_frame_guest", CONFIG_UINT, 1024, FRAME_MAX_LIMIT,
	    offsetof(struct config, max_frame_guest), sizeof(uint32_t) },
	{ "max_frame_control", CONFIG_UINT, 1024, FRAME_MAX_LIMIT,
	    offsetof(struct config, max_frame_control), sizeof(uint32_t) },
	{ "max_output", CONFIG_UINT, 65536, 256UL * 1024 * 1024,
	    offsetof(struct config, max_output), sizeof(size_t) },
	{ "handshake_timeout", CONFIG_UINT, 1, 300,
	    offsetof(struct config, handshake_timeout),
	    sizeof(unsigned int) },
	{ "idle_timeout", CONFIG_UINT, 1, 86400,
	    offsetof(struct config, idle_timeout), sizeof(unsigned int) },
	{ "ping_interval", CONFIG_UINT, 1, 3600,
	    offsetof(struct config, ping_interval), sizeof(unsigned int) },
	{ "max_conns_per_vm", CONFIG_UINT, 1, 1024,
	    offsetof(struct config, max_conns_per_vm),
	    sizeof(unsigned int) },
	{ "max_conns", CONFIG_UINT, 16, 65536,
	    offsetof(struct config, max_conns), sizeof(unsigned int) },
	{ "max_control_conns", CONFIG_UINT, 1, 1024,
	    offsetof(struct config, max_control_conns),
	    sizeof(unsigned int) },
	{ "backend_timeout", CONFIG_UINT, 1, 86400,
	    offsetof(struct config, backend_timeout), sizeof(unsigned int) },
	{ "qmp_timeout", CONFIG_UINT, 1, 3600,
	    offsetof(struct config, qmp_timeout), sizeof(unsigned int) },
	{ "space_reserve_mib", CONFIG_MIB, 0, 1024UL * 1024,
	    offsetof(struct config, space_reserve), sizeof(uint64_t) },
	{ "max_parallel_ops", CONFIG_UINT, 1, 256,
	    offsetof(struct config, max_parallel_ops), sizeof(unsigned int) },
	{ "max_queued_per_vm", CONFIG_UINT, 0, 1024,
	    offsetof(struct config, max_queued_per_vm),
	    sizeof(unsigned int) },
	{ "queue_wait", CONFIG_UINT, 1, 86400,
	    offsetof(struct config, queue_wait), sizeof(unsigned int) },
	{ "freeze_lease_ms", CONFIG_UINT, 300, 600000,
	    offsetof(struct config, freeze_lease_ms), sizeof(unsigned int) },
	{ "guest_timeout", CONFIG_UINT, 1, 3600,
	    offsetof(struct config, guest_timeout), sizeof(unsigned int) },
	{ "reconcile_retry", CONFIG_UINT, 1, 86400,
	    offsetof(struct config, reconcile_retry), sizeof(unsigned int) },
	{ "unplug_ms", CONFIG_UINT, 100, 600000,
	    offsetof(struct config, unplug_ms), sizeof(unsigned int) },
	{ "allow_loopback_cid", CONFIG_BOOL, 0, 1,
	    offsetof(struct config, allow_loopback_cid), sizeof(int) },
};

/* Where the command of a backend is kept in cf. */
static char **
config_command(struct config *cf, const struct backend_kind *bk)
{
	return ((char **)((char *)&cf->cmd + bk->command_offset));
}

/* Defaults; see config.h. */
void
config_defaults(struct config *cf)
{
	size_t	i;

	memset(cf, 0, sizeof *cf);
	cf->control_socket = xstrdup(CONTROL_SOCKET_DEFAULT);
	cf->control_uids[0] = 0;
	cf->ncontrol_uids = 1;
	cf->vsock = 1;
	cf->vsock_port = VSOCK_DEFAULT_PORT;
	cf->max_frame_guest = FRAME_MAX_GUEST;
	cf->max_frame_control = FRAME_MAX_CONTROL;
	cf->max_output = 4 * 1024 * 1024;
	cf->handshake_timeout = 5;
	cf->idle_timeout = 300;
	cf->ping_interval = 30;
	cf->max_conns_per_vm = 8;
	cf->max_conns = 1024;
	cf->max_control_conns = 32;
	for (i = 0; i < backend_nkinds; i++)
		*config_command(cf, &backend_kinds[i]) =
		    xstrdup(backend_kinds[i].command_default);
	cf->backend_timeout = 300;
	cf->qmp_timeout = 30;
	cf->space_reserve = 256ULL * 1024 * 1024;
	cf->max_parallel_ops = 4;
	cf->max_queued_per_vm = 32;
	cf->queue_wait = 900;
	cf->freeze_lease_ms = 10000;
	cf->guest_timeout = 60;
	cf->reconcile_retry = 60;
	cf->unplug_ms = 20000;
}

/* Free the strings. */
void
config_free(struct config *cf)
{
	size_t	i;

	free(cf->state_dir);
	free(cf->control_socket);
	cf->state_dir = cf->control_socket = NULL;
	for (i = 0; i < backend_nkinds; i++) {
		free(*config_command(cf, &backend_kinds[i]));
		*config_command(cf, &backend_kinds[i]) = NULL;
	}
}

/* Move the backends' commands; see config.h. */
void
config_move_commands(struct config *to, struct config *from)
{
	size_t	i;

	for (i = 0; i < backend_nkinds; i++) {
		free(*config_command(to, &backend_kinds[i]));
		*config_command(to, &backend_kinds[i]) =
		    *config_command(from, &backend_kinds[i]);
		*config_command(from, &backend_kinds[i]) = NULL;
	}
}

/* /persist/eve-guest-agent if /persist exists, else /var/lib/... */
void
config_state_dir(struct config *cf)
{
	struct stat	sb;

	if (cf->state_dir != NULL)
		return;
	if (stat("/persist", &sb) == 0 && S_ISDIR(sb.st_mode))
		cf->state_dir = xstrdup(STATE_DIR_DEFAULT);
	else
		cf->state_dir = xstrdup(STATE_DIR_FALLBACK);
}

/* True if only root may use the control socket. */
int
config_uid_allowed_only_root(const struct config *cf)
{
	return (cf->ncontrol_uids == 1 && cf->control_uids[0] == 0);
}

/* True if uid is listed in control_uids. */
int
config_uid_allowed(const struct config *cf, uid_t uid)
{
	size_t	i;

	for (i = 0; i < cf->ncontrol_uids; i++)
		if (cf->control_uids[i] == uid)
			return (1);
	return (0);
}

/* Parse a decimal unsigned long; -1 if not entirely one. */
static int
config_number(const char *s, unsigned long *out)
{
	char	*end;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	return (0);
}

/* Store one value; -1 with *why (static text or allocated in *cause). */
static int
config_set(struct config *cf, const struct config_key *k, const char *v,
    char **cause)
{
	unsigned long	 n;
	char		*copy, *tok, *save;
	char		**sp;

	switch (k->type) {
	case CONFIG_UINT:
		if (config_number(v, &n) != 0 || n < k->min || n > k->max) {
			xasprintf(cause, "%s: '%s' is not a number in %lu..%lu",
			    k->name, v, k->min, k->max);
			return (-1);
		}
		if (k->size == sizeof(uint32_t))
			*(uint32_t *)((char *)cf + k->offset) = (uint32_t)n;
		else
			*(size_t *)((char *)cf + k->offset) = n;
		return (0);
	case CONFIG_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
			n = 1;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
			n = 0;
		else {
			xasprintf(cause, "%s: '%s' is not yes or no", k->name,
			    v);
			return (-1);
		}
		*(int *)((char *)cf + k->offset) = (int)n;
		return (0);
	case CONFIG_MIB:
		if (config_number(v, &n) != 0 || n > k->max) {
			xasprintf(cause, "%s: '%s' is not a number in 0..%lu",
			    k->name, v, k->max);
			return (-1);
		}
		*(uint64_t *)((char *)cf + k->offset) = (uint64_t)n << 20;
		return (0);
	case CONFIG_COMMAND:
		if (*v == '\0' || strlen(v) >= PATH_MAX ||
		    (v[0] != '/' && strchr(v, '/') != NULL) ||
		    strpbrk(v, " \t") != NULL) {
			xasprintf(cause, "%s: '%s' is not a command name or an "
			    "absolute path", k->name, v);
			return (-1);
		}
		sp = (char **)((char *)cf + k->offset);
		free(*sp);
		*sp = xstrdup(v);
		return (0);
	case CONFIG_PATH:
		if (v[0] != '/' || strlen(v) >= PATH_MAX) {
			xasprintf(cause, "%s: '%s' is not an absolute path",
			    k->name, v);
			return (-1);
		}
		sp = (char **)((char *)cf + k->offset);
		free(*sp);
		*sp = xstrdup(v);
		return (0);
	case CONFIG_UIDS:
		copy = xstrdup(v);
		cf->ncontrol_uids = 0;
		for (tok = strtok_r(copy, ", ", &save); tok != NULL;
		    tok = strtok_r(NULL, ", ", &save)) {
			if (config_number(tok, &n) != 0 || n >= UINT_MAX ||
			    cf->ncontrol_uids == CONFIG_MAX_UIDS) {
				xasprintf(cause, "%s: '%s' is not a list of at "
				    "most %d numeric uids", k->name, v,
				    CONFIG_MAX_UIDS);
				free(copy);
				return (-1);
			}
			cf->control_uids[cf->ncontrol_uids++] = (uid_t)n;
		}
		free(copy);
		if (cf->ncontrol_uids == 0) {
			xasprintf(cause, "%s: empty list", k->name);
			return (-1);
		}
		return (0);
	}
	return (-1);
}

/*
 * The command key of a backend (backend_kinds[]) named name, filled in
 * *key as a config_keys[] row would be; NULL if no backend has it.
 */
static const struct config_key *
config_backend_key(const char *name, struct config_key *key)
{
	size_t	i;

	for (i = 0; i < backend_nkinds; i++) {
		if (strcmp(backend_kinds[i].command_key, name) != 0)
			continue;
		memset(key, 0, sizeof *key);
		key->name = backend_kinds[i].command_key;
		key->type = CONFIG_COMMAND;
		key->offset = offsetof(struct config, cmd) +
		    backend_kinds[i].command_offset;
		return (key);
	}
	return (NULL);
}

/* Trim leading and trailing white space in place; returns the start. */
static char *
config_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

/* Read a config file; see config.h. */
int
config_load(struct config *cf, const char *path, int must_exist,
    char **cause)
{
	FILE	*f;
	char	*text = NULL;
	size_t	 len = 0, cap = 0, n;
	int	 rc;

	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return (0);
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	do {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			text = xreallocarray(text, cap, 1);
		}
		len += (n = fread(text + len, 1, cap - len, f));
	} while (n != 0);
	if (ferror(f)) {
		xasprintf(cause, "%s: read error", path);
		rc = -1;
	} else
		rc = config_parse(cf, text, len, path, cause);
	free(text);
	fclose(f);
	return (rc);
}

/* Parse config file text; see config.h. */
int
config_parse(struct config *cf, const char *text, size_t len,
    const char *name, char **cause)
{
	const char			*p = text, *end = text + len, *nl;
	char				*line, *key, *val, *eq, *why;
	size_t				 i, lineno = 0;
	const struct config_key		*k;
	struct config_key		 bkey;
	int				 rc = 0;

	while (p < end && rc == 0) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		lineno++;
		/* As getline() then string functions saw it: up to a NUL. */
		line = xstrndup(p, (size_t)(nl - p));
		p = nl == end ? end : nl + 1;
		if ((eq = strchr(line, '#')) != NULL)
			*eq = '\0';
		key = config_trim(line);
		if (*key == '\0') {
			free(line);
			continue;
		}
		k = NULL;
		if ((eq = strchr(key, '=')) == NULL) {
			xasprintf(cause, "%s:%zu: expected 'key = value'", name,
			    lineno);
			rc = -1;
		} else {
			*eq = '\0';
			key = config_trim(key);
			val = config_trim(eq + 1);
			for (i = 0; i < sizeof config_keys /
			    sizeof config_keys[0]; i++)
				if (strcmp(config_keys[i].name, key) == 0)
					k = &config_keys[i];
			if (k == NULL)
				k = config_backend_key(key, &bkey);
			if (k == NULL) {
				xasprintf(cause, "%s:%zu: unknown key '%s'",
				    name, lineno, key);
				rc = -1;
			} else if (config_set(cf, k, val, &why) != 0) {
				xasprintf(cause, "%s:%zu: %s", name, lineno,
				    why);
				free(why);
				rc = -1;
			}
		}
		free(line);
	}
	return (rc);
}
