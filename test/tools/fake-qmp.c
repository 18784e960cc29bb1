/*
 * fake-qmp: a scripted QEMU monitor for integration tests, for what a real
 * QEMU will not do on demand (answer with nulls, out-of-range numbers,
 * stall).  It listens on a Unix socket, serves one client at a time: the
 * greeting, an empty return to qmp_capabilities, and to every other
 * command {"return": CONTENT, "id": ID} where CONTENT is the text of
 * REPLY-FILE, read again at each command (so a test can change it).
 *
 *	fake-qmp SOCKET REPLY-FILE
 *
 * REPLY-FILE stands for what query-named-block-nodes lists: nodes made
 * with -blockdev, which no drive holds.  So query-block gets the text of
 * REPLY-FILE.query-block, or [] (no drives) when there is none.  A
 * REPLY-FILE holding just "stall" makes it answer nothing to commands (a
 * QEMU that hangs).  Each command's name is printed on stdout, one line
 * each.  Runs until killed.
 */
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "jsonread.h"
#include "log.h"
#include "transport.h"
#include "xmalloc.h"

#define FAKE_GREETING	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, " \
			"\"minor\": 2, \"major\": 7}, \"package\": \"\"}, " \
			"\"capabilities\": []}}\r\n"
#define FAKE_REPLY_MAX	(1024 * 1024)

/* Write all of buf; -1 when the client went away. */
static int
fake_write(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/* A reply file's text, or missing when it cannot be read. */
static char *
fake_content(const char *path, const char *missing)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	buf = xmalloc(FAKE_REPLY_MAX + 1);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(buf, FAKE_REPLY_MAX + 1, "%s", missing);
		return (buf);
	}
	n = fread(buf, 1, FAKE_REPLY_MAX, f);
	fclose(f);
	buf[n] = '\0';
	return (buf);
}

/* Answer one command message; -1 when the client went away. */
static int
fake_answer(int fd, json_object *msg, const char *reply_file)
{
	const char	*cmd = jsonread_str(msg, "execute");
	json_object	*id = NULL;
	char		*content, *path, *line;
	int		 rc;

	json_object_object_get_ex(msg, "id", &id);
	printf("%s\n", cmd != NULL ? cmd : "(no command)");
	fflush(stdout);
	content = cmd != NULL && strcmp(cmd, "qmp_capabilities") != 0 ?
	    fake_content(reply_file, "{}") : xstrdup("{}");
	if (strncmp(content, "stall", 5) == 0) {
		free(content);
		return (0);
	}
	if (cmd != NULL && strcmp(cmd, "query-block") == 0) {
		free(content);
		xasprintf(&path, "%s.query-block", reply_file);
		content = fake_content(path, "[]");
		free(path);
	}
	xasprintf(&line, "{\"return\": %s, \"id\": %s}\r\n", content,
	    id != NULL ? json_object_to_json_string(id) : "null");
	rc = fake_write(fd, line, strlen(line));
	free(line);
	free(content);
	return (rc);
}

/* Serve one client until it goes away. */
static void
fake_serve(int fd, const char *reply_file)
{
	json_tokener	*tok;
	json_object	*msg;
	char		 buf[4096];
	ssize_t		 n;
	size_t		 off;

	if (fake_write(fd, FAKE_GREETING, strlen(FAKE_GREETING)) == -1)
		return;
	tok = json_tokener_new();
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		off = 0;
		while (off < (size_t)n) {
			msg = json_tokener_parse_ex(tok, buf + off,
			    (int)((size_t)n - off));
			if (msg == NULL && json_tokener_get_error(tok) ==
			    json_tokener_continue)
				break;
			if (msg == NULL) {
				json_tokener_free(tok);
				return;
			}
			off += json_tokener_get_parse_end(tok);
			json_tokener_reset(tok);
			if (fake_answer(fd, msg, reply_file) == -1) {
				json_object_put(msg);
				json_tokener_free(tok);
				return;
			}
			json_object_put(msg);
			/* Skip the line ends between messages. */
			while (off < (size_t)n && (buf[off] == '\r' ||
			    buf[off] == '\n'))
				off++;
		}
	}
	json_tokener_free(tok);
}

int
main(int argc, char **argv)
{
	char	*cause;
	int	 lfd, fd;

	log_init("fake-qmp", LOG_TO_STDERR, 0);
	if (argc != 3) {
		fprintf(stderr, "usage: fake-qmp SOCKET REPLY-FILE\n");
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = transport_listen_unix(argv[1], 0600, 8, &cause)) == -1)
		fatalx("%s", cause);
	/* The listener is non-blocking; this tool wants to block. */
	transport_set_nonblock(lfd, 0);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("accept");
		}
		transport_set_nonblock(fd, 0);
		fake_serve(fd, argv[2]);
		close(fd);
	}
}
