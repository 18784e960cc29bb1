/* AF_VSOCK and Unix socket listen/accept/connect and address parsing. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <linux/vm_sockets.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"
#include "xmalloc.h"

/* Parse an unsigned decimal in [0, max]; -1 if not one. */
static int
transport_parse_uint(const char *s, size_t n, unsigned long max,
    unsigned int *out)
{
	unsigned long	v = 0;
	size_t		i;

	if (n == 0 || n > 10)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return (-1);
	*out = (unsigned int)v;
	return (0);
}

/* Parse an address string; see transport.h. */
int
addr_parse(const char *s, struct evg_addr *addr, char **cause)
{
	const char	*p, *colon;

	memset(addr, 0, sizeof *addr);
	if (strncmp(s, "unix:", 5) == 0) {
		p = s + 5;
		if (*p == '\0') {
			xasprintf(cause, "address '%s': empty Unix socket path",
			    s);
			return (-1);
		}
		if (strlen(p) >= sizeof addr->path) {
			xasprintf(cause, "address '%s': Unix socket path longer "
			    "than %zu bytes", s, sizeof addr->path - 1);
			return (-1);
		}
		addr->type = ADDR_UNIX;
		strcpy(addr->path, p);
		return (0);
	}
	if (strncmp(s, "vsock:", 6) == 0) {
		p = s + 6;
		colon = strchr(p, ':');
		addr->type = ADDR_VSOCK;
		if (colon == NULL ||
		    transport_parse_uint(p, (size_t)(colon - p), UINT_MAX,
		    &addr->cid) != 0 ||
		    transport_parse_uint(colon + 1, strlen(colon + 1), UINT_MAX,
		    &addr->port) != 0) {
			xasprintf(cause, "address '%s': expected vsock:CID:PORT "
			    "with decimal numbers", s);
			return (-1);
		}
		return (0);
	}
	xasprintf(cause, "address '%s': expected vsock:CID:PORT or unix:PATH",
	    s);
	return (-1);
}

/* Format an address; returns buf. */
char *
addr_format(const struct evg_addr *addr, char *buf, size_t len)
{
	if (addr->type == ADDR_UNIX)
		snprintf(buf, len, "unix:%s", addr->path);
	else
		snprintf(buf, len, "vsock:%u:%u", addr->cid, addr->port);
	return (buf);
}

/* Set or clear O_NONBLOCK on fd. */
int
transport_set_nonblock(int fd, int on)
{
	int	flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return (fcntl(fd, F_SETFL, flags));
}

/*
 * True unless the Unix socket at sun is a stale file left by a dead daemon
 * (ECONNREFUSED): a live one, a full listen queue (EAGAIN) or a socket we
 * may not connect to (EACCES) are never replaced.
 */
static int
transport_unix_live(const struct sockaddr_un *sun)
{
	int	fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (0);
	/* Only a refused connection proves nobody listens there. */
	rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	rc = rc == -1 && (errno == ECONNREFUSED || errno == ENOENT) ? 0 : 1;
	close(fd);
	return (rc);
}

/*
 * Listen on a Unix path; replaces a stale socket, never another file and
 * never a socket another process still listens on.
 */
int
transport_listen_unix(const char *path, mode_t mode, int backlog,
    char **cause)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	int			 fd;

	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "%s: socket path too long (max %zu bytes)",
		    path, sizeof sun.sun_path - 1);
		return (-1);
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			xasprintf(cause, "%s: exists and is not a socket", path);
			return (-1);
		}
		if (transport_unix_live(&sun)) {
			xasprintf(cause, "%s: another process is listening "
			    "there (a daemon already running?)", path);
			return (-1);
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		xasprintf(cause, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, mode) == -1) {
		xasprintf(cause, "chmod %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		xasprintf(cause, "listen %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	return (fd);
fail:
	close(fd);
	return (-1);
}

/* Listen on AF_VSOCK for any CID. */
int
transport_listen_vsock(unsigned int port, int backlog, char **cause)
{
	struct sockaddr_vm	svm;
	int			fd;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		xasprintf(cause, "AF_VSOCK socket: %s (is the vsock module "
		    "loaded?)", strerror(errno));
		return (-1);
	}
	memset(&svm, 0, sizeof svm);
	svm.svm_family = AF_VSOCK;
	svm.svm_cid = VMADDR_CID_ANY;
	svm.svm_port = port;
	if (bind(fd, (struct sockaddr *)&svm, sizeof svm) == -1) {
		xasprintf(cause, "bind vsock port %u: %s", port,
		    strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		xasprintf(cause, "listen vsock port %u: %s", port,
		    strerror(errno));
		goto fail;
	}
	return (fd);
fail:
	close(fd);
	return (-1);
}

/* Accept with the peer CID for vsock; see transport.h. */
int
transport_accept(int lfd, unsigned int *cid)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof ss;
	int			fd;

	fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return (-1);
	*cid = 0;
	if (ss.ss_family == AF_VSOCK)
		*cid = ((struct sockaddr_vm *)&ss)->svm_cid;
	return (fd);
}

/* Wait for a non-blocking connect to finish; 0 or -1 with errno. */
static int
transport_wait_connect(int fd, int timeout_ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	int		err = 0, n;
	socklen_t	len = sizeof err;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n == -1 && errno == EINTR);
	if (n == 0) {
		errno = ETIMEDOUT;
		return (-1);
	}
	if (n == -1)
		return (-1);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return (-1);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

/* Connect to an address within timeout_ms; blocking socket on success. */
int
transport_connect(const struct evg_addr *addr, int timeout_ms, char **cause)
{
	struct sockaddr_un	sun;
	struct sockaddr_vm	svm;
	struct sockaddr		*sa;
	socklen_t		 salen;
	struct timeval		 tv;
	char			 name[UNIX_PATH_MAX + 16];
	int			 fd, family;

	if (addr->type == ADDR_UNIX) {
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		strcpy(sun.sun_path, addr->path);
		sa = (struct sockaddr *)&sun;
		salen = sizeof sun;
		family = AF_UNIX;
	} else {
		memset(&svm, 0, sizeof svm);
		svm.svm_family = AF_VSOCK;
		svm.svm_cid = addr->cid;
		svm.svm_port = addr->port;
		sa = (struct sockaddr *)&svm;
		salen = sizeof svm;
		family = AF_VSOCK;
	}
	addr_format(addr, name, sizeof name);
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		xasprintf(cause, "%s: socket: %s", name, strerror(errno));
		return (-1);
	}
	if (family == AF_UNIX) {
		/* A full listen queue blocks connect() up to SO_SNDTIMEO. */
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof tv) == -1 || connect(fd, sa, salen) == -1) {
			xasprintf(cause, "%s: %s", name, strerror(errno));
			goto fail;
		}
		memset(&tv, 0, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		return (fd);
	}
	if (transport_set_nonblock(fd, 1) == -1 ||
	    (connect(fd, sa, salen) == -1 && (errno != EINPROGRESS ||
	    transport_wait_connect(fd, timeout_ms) == -1)) ||
	    transport_set_nonblock(fd, 0) == -1) {
		xasprintf(cause, "%s: %s", name, strerror(errno));
		goto fail;
	}
	return (fd);
fail:
	close(fd);
	return (-1);
}

/* Uid of the peer of a Unix socket. */
int
transport_peer_uid(int fd, uid_t *uid)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return (-1);
	*uid = cred.uid;
	return (0);
}
