/*
 * Transports: AF_VSOCK and Unix stream sockets, addressed as
 * "vsock:CID:PORT" or "unix:PATH".  Listening sockets are non-blocking and
 * close-on-exec; connected sockets from transport_connect() are blocking.
 * Every function that can fail returns -1 and sets *cause (caller frees).
 */
#ifndef EVG_TRANSPORT_H
#define EVG_TRANSPORT_H

#include <sys/types.h>
#include <sys/un.h>

#define VSOCK_DEFAULT_PORT	2210
#define VSOCK_HOST_CID		2
#define UNIX_PATH_MAX		(sizeof(((struct sockaddr_un *)0)->sun_path))

enum addr_type {
	ADDR_VSOCK,
	ADDR_UNIX,
};

struct evg_addr {
	enum addr_type	 type;
	unsigned int	 cid;
	unsigned int	 port;
	char		 path[UNIX_PATH_MAX];
};

/* Parse "vsock:CID:PORT" or "unix:PATH" into *addr. */
int	addr_parse(const char *, struct evg_addr *, char **);
/* Format an address back to text into buf; returns buf. */
char	*addr_format(const struct evg_addr *, char *, size_t);

/*
 * Listen on a Unix path with mode.  A stale socket there is replaced; a
 * socket another process still listens on is refused (-1, *cause).
 */
int	transport_listen_unix(const char *, mode_t, int, char **);
/* Listen on AF_VSOCK VMADDR_CID_ANY:port. */
int	transport_listen_vsock(unsigned int, int, char **);
/*
 * Accept one connection, non-blocking and close-on-exec.  For AF_VSOCK
 * *cid is the peer's CID; for Unix sockets it is set to 0.  Returns -1 with
 * errno set (EAGAIN when nothing is pending).
 */
int	transport_accept(int, unsigned int *);
/* Connect within timeout_ms; the returned socket is blocking. */
int	transport_connect(const struct evg_addr *, int, char **);
/* Uid of a Unix-socket peer (SO_PEERCRED); -1 on failure. */
int	transport_peer_uid(int, uid_t *);
/* Set or clear O_NONBLOCK. */
int	transport_set_nonblock(int, int);

#endif
