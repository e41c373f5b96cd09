/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics over HTTP (libmicrohttpd), served by msegd's own thread: the daemon runs
 * in epoll mode without threads of its own, msegd's loop watches mseg_metrics_fd() and calls
 * mseg_metrics_process(), so a scrape reads the agent's state without locks. Off by default;
 * a non-loopback address is refused unless the operator says so (msegd --metrics-any).
 *
 * The page itself is written by a callback (the agent's, agent/events_agent.c); this module
 * owns the HTTP side and the reconcile duration histogram every page includes.
 */
#ifndef MSEG_AGENT_METRICS_H
#define MSEG_AGENT_METRICS_H

#include <stdbool.h>
#include <stdio.h>

struct mseg_metrics;

/* Writes the page body (Prometheus text format 0.0.4) to f. */
typedef void (*mseg_metrics_render_fn)(FILE *f, void *userdata);

/*
 * Listens on "ADDR:PORT" (IPv4). -EINVAL with why naming the problem for a malformed value,
 * -EPERM for a non-loopback address without allow_any.
 */
int mseg_metrics_start(struct mseg_metrics **ret, const char *addr_port, bool allow_any,
		       mseg_metrics_render_fn fn, void *userdata, const char **why);
void mseg_metrics_stop(struct mseg_metrics *m); /* NULL-safe */
int mseg_metrics_fd(const struct mseg_metrics *m);
void mseg_metrics_process(struct mseg_metrics *m);

/* The reconciler's hook: one observation of mseg_reconcile_duration_seconds. */
void mseg_metrics_observe_reconcile(double seconds);
/* Writes that histogram (HELP, TYPE, buckets, sum, count) to f. */
void mseg_metrics_reconcile_render(FILE *f);

#endif
