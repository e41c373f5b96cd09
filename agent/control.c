// SPDX-License-Identifier: Apache-2.0
#include "agent/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/store.h"
#include "lib/log.h"
#include "lib/macro.h"

struct client {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing; /* close once the output is flushed */
	bool want_out;
	bool discarding; /* dropping the rest of an oversized line */
	struct client *next;
	/* a stream (mseg_control_stream_*): told when the client goes */
	struct mseg_control *ctl;
	void (*on_close)(void *ud);
	void *on_close_ud;
};

/* The client whose request a handler is serving (single-threaded agent). */
static struct client *serving;

struct mseg_control {
	char *path;
	int listen_fd;
	int epfd;
	const struct mseg_op *ops;
	void *ctx;
	struct client *clients;
	size_t n_clients;
};

static void client_free(struct mseg_control *c, struct client *cl)
{
	struct client **pp;

	for (pp = &c->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	if (cl->on_close)
		cl->on_close(cl->on_close_ud);
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	free(cl);
	c->n_clients--;
}

static int buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n > *cap) {
		size_t ncap = *cap ? *cap : 4096;
		char *nb;

		while (ncap < *len + n)
			ncap *= 2;
		nb = realloc(*buf, ncap);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	return 0;
}

static void client_watch(struct mseg_control *c, struct client *cl, bool want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = cl};

	if (cl->want_out == want_out)
		return;
	cl->want_out = want_out;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
}

/* Writes what it can; returns -errno when the client is gone. */
static int client_flush(struct mseg_control *c, struct client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				client_watch(c, cl, true);
				return 0;
			}
			return -errno;
		}
		cl->out_off += (size_t)n;
	}
	cl->out_len = cl->out_off = 0;
	client_watch(c, cl, false);
	return 0;
}

static int client_reply(struct client *cl, json_t *reply)
{
	char *text;
	int r;

	if (!reply)
		reply = mseg_reply_error(MSEG_ERR_INTERNAL, "out of memory");
	text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!text)
		return -ENOMEM;
	r = buf_append(&cl->out, &cl->out_len, &cl->out_cap, text, strlen(text));
	if (r == 0)
		r = buf_append(&cl->out, &cl->out_len, &cl->out_cap, "\n", 1);
	free(text);
	return r;
}

/* Answers every complete line in the input buffer. */
static int client_handle_lines(struct mseg_control *c, struct client *cl)
{
	size_t start = 0;
	int r;

	if (cl->discarding) {
		char *nl = memchr(cl->in, '\n', cl->in_len);

		if (!nl) {
			cl->in_len = 0;
			return 0;
		}
		/* The oversized line ends here: serve what follows as usual. */
		cl->discarding = false;
		start = (size_t)(nl - cl->in) + 1;
	}
	for (;;) {
		char *nl = memchr(cl->in + start, '\n', cl->in_len - start);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - (cl->in + start));
		if (len > 0 && cl->in[start + len - 1] == '\r')
			len--;
		if (len > 0) {
			json_t *reply;

			serving = cl;
			reply = mseg_request_handle(c->ops, c->ctx, cl->in + start, len);
			serving = NULL;
			r = client_reply(cl, reply);
			if (r < 0)
				return r;
		}
		start = (size_t)(nl - cl->in) + 1;
	}
	memmove(cl->in, cl->in + start, cl->in_len - start);
	cl->in_len -= start;
	if (cl->in_len > MSEG_CONTROL_LINE_MAX) {
		/* Answer once, then drop the rest of that line without buffering it. */
		r = client_reply(cl, mseg_reply_error(MSEG_ERR_TOO_LARGE,
						      "request line longer than %d bytes",
						      MSEG_CONTROL_LINE_MAX));
		cl->in_len = 0;
		cl->discarding = true;
		return r;
	}
	return 0;
}

static void client_read(struct mseg_control *c, struct client *cl)
{
	char buf[65536];
	bool eof = false;
	int r = 0;

	while (!cl->closing) {
		ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				eof = true;
			break;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		r = buf_append(&cl->in, &cl->in_len, &cl->in_cap, buf, (size_t)n);
		if (r == 0)
			r = client_handle_lines(c, cl);
		if (r < 0)
			break;
	}
	if (r < 0 || client_flush(c, cl) < 0) {
		client_free(c, cl);
		return;
	}
	/* A half-closed client still gets its replies; close once they are out. */
	if (eof || cl->closing) {
		cl->closing = true;
		if (cl->out_len == 0)
			client_free(c, cl);
	}
}

static void control_accept(struct mseg_control *c)
{
	for (;;) {
		struct epoll_event ev = {.events = EPOLLIN};
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct client *cl;
		int fd;

		fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (c->n_clients >= MSEG_CONTROL_CLIENTS_MAX) {
			close(fd);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (!cl) {
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->ctl = c;
		cl->next = c->clients;
		c->clients = cl;
		c->n_clients++;
		ev.data.ptr = cl;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			client_free(c, cl);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
			log_warn("refused a control connection from uid %d (root only)",
				 len == sizeof(cred) ? (int)cred.uid : -1);
			client_reply(cl, mseg_reply_error(MSEG_ERR_PERMISSION,
							  "msegd serves root only (peer uid %d)",
							  (int)cred.uid));
			cl->closing = true;
			if (client_flush(c, cl) < 0 || cl->out_len == 0)
				client_free(c, cl);
		}
	}
}

int mseg_control_process(struct mseg_control *c)
{
	struct epoll_event evs[16];
	int n;

	n = epoll_wait(c->epfd, evs, (int)ARRAY_SIZE(evs), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct client *cl = evs[i].data.ptr;

		if (!cl) {
			control_accept(c);
			continue;
		}
		if (evs[i].events & EPOLLOUT) {
			if (client_flush(c, cl) < 0 || (cl->closing && cl->out_len == 0)) {
				client_free(c, cl);
				continue;
			}
		}
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			client_read(c, cl);
	}
	return 0;
}

static int socket_prepare(const char *path, struct sockaddr_un *sa)
{
	_cleanup_free_ char *dir = NULL;
	char *slash;
	int fd, r;

	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = mseg_store_dir_ensure(dir);
		if (r < 0)
			return r;
	}
	/* A socket file nobody accepts on is stale (a killed agent); a live one is not ours. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int mseg_control_new(const char *path, const struct mseg_op *ops, void *ctx,
		     struct mseg_control **ret)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	struct sockaddr_un sa = {0};
	struct mseg_control *c;
	mode_t old;
	int r;

	r = socket_prepare(path, &sa);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->listen_fd = c->epfd = -1;
	c->ops = ops;
	c->ctx = ctx;
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto fail;
	}
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		r = -errno;
		goto fail;
	}
	/* Created 0600 from the start: no window in which others could connect. */
	old = umask(0177);
	r = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0) {
		r = -errno;
		goto fail;
	}
	if (chmod(path, 0600) < 0 || listen(c->listen_fd, 64) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	*ret = c;
	return 0;
fail_unlink:
	unlink(path);
fail:
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->path);
	free(c);
	return r;
}

void mseg_control_free(struct mseg_control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c, c->clients);
	close(c->epfd);
	close(c->listen_fd);
	unlink(c->path);
	free(c->path);
	free(c);
}

int mseg_control_fd(const struct mseg_control *c)
{
	return c->epfd;
}

struct mseg_control_stream *mseg_control_stream_current(void)
{
	return (struct mseg_control_stream *)serving;
}

void mseg_control_stream_on_close(struct mseg_control_stream *s, void (*fn)(void *ud), void *ud)
{
	struct client *cl = (struct client *)s;

	cl->on_close = fn;
	cl->on_close_ud = ud;
}

int mseg_control_stream_write(struct mseg_control_stream *s, const char *line, size_t len,
			      size_t max_pending)
{
	struct client *cl = (struct client *)s;
	int r;

	if (cl->out_len - cl->out_off > max_pending)
		return -ENOBUFS;
	if (cl->out_off > 0 && cl->out_off >= cl->out_len / 2) {
		/* a stream never drains fully while busy: reclaim what was sent */
		memmove(cl->out, cl->out + cl->out_off, cl->out_len - cl->out_off);
		cl->out_len -= cl->out_off;
		cl->out_off = 0;
	}
	r = buf_append(&cl->out, &cl->out_len, &cl->out_cap, line, len);
	if (r == 0)
		r = buf_append(&cl->out, &cl->out_len, &cl->out_cap, "\n", 1);
	if (r < 0)
		return r;
	/* Inside a handler the reply goes out first: the caller flushes after it. */
	if (cl == serving)
		return 0;
	if (client_flush(cl->ctl, cl) < 0) {
		/* gone: drop it now (its on_close tells the owner) */
		client_free(cl->ctl, cl);
		return -EPIPE;
	}
	return 0;
}
