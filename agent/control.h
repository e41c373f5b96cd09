/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket: a Unix stream socket (mode 0600) speaking the JSON-lines protocol of
 * agent/request.h. Only root peers are served (SO_PEERCRED); others get one error reply and
 * are closed. Every client is non-blocking with its own input and output buffers; a request
 * line longer than MSEG_CONTROL_LINE_MAX is answered with an error and skipped up to its end.
 *
 * The server keeps its own epoll set; the agent's main loop watches mseg_control_fd() and
 * calls mseg_control_process() when it is readable.
 */
#ifndef MSEG_AGENT_CONTROL_H
#define MSEG_AGENT_CONTROL_H

#include "agent/request.h"

#define MSEG_CONTROL_LINE_MAX (1024 * 1024)
#define MSEG_CONTROL_CLIENTS_MAX 128

struct mseg_control;

/*
 * Listens at path (parent directory created; a stale socket replaced, but -EADDRINUSE when
 * another process still accepts there). ops and ctx are used for every request.
 */
int mseg_control_new(const char *path, const struct mseg_op *ops, void *ctx,
		     struct mseg_control **ret);
/* Closes every client and the listener and removes the socket file. NULL-safe. */
void mseg_control_free(struct mseg_control *c);
int mseg_control_fd(const struct mseg_control *c);
/* Serves whatever is ready without blocking. */
int mseg_control_process(struct mseg_control *c);

/*
 * Streams (events.follow): while an op handler runs, mseg_control_stream_current() is the
 * connection that sent the request (NULL otherwise). The handler may keep it and write lines
 * to it after its reply, until on_close(ud) says the peer is gone; on_close(NULL) detaches.
 */
struct mseg_control_stream;
struct mseg_control_stream *mseg_control_stream_current(void);
void mseg_control_stream_on_close(struct mseg_control_stream *s, void (*fn)(void *ud), void *ud);
/* Queues line and a newline, sends what the socket takes; -ENOBUFS (nothing queued) when more
 * than max_pending bytes already wait. */
int mseg_control_stream_write(struct mseg_control_stream *s, const char *line, size_t len,
			      size_t max_pending);

#endif
