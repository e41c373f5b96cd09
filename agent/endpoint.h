/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An endpoint's lifecycle on this node: create (IP, intent, netns, network, process, ready),
 * delete (intent, processes, network, netns, IP, record) and, on start, reaping whatever a
 * crash interrupted. Each step that changes the kernel is preceded by a persisted intent, so
 * a restarted agent knows what to undo.
 */
#ifndef MSEG_AGENT_ENDPOINT_H
#define MSEG_AGENT_ENDPOINT_H

#include "agent/agent.h"

struct mseg_endpoint_spec {
	const char *namespace; /* must exist */
	const char *name;      /* checked, unique in its namespace */
	struct mseg_labels labels;
	struct mseg_named_port *ports;
	size_t n_ports;
	char **argv; /* detached command, NULL-terminated; NULL: the namespace is the container */
};

/*
 * Builds the endpoint described by spec (labels and ports are taken over on success). On any
 * failure everything made so far is undone and e says what failed.
 */
int mseg_agent_endpoint_create(struct mseg_agent *a, struct mseg_endpoint_spec *spec,
			       struct mseg_agent_endpoint **ret, struct mseg_op_error *e);
/* Removes ep and everything it owns; ep is freed on success. */
int mseg_agent_endpoint_delete(struct mseg_agent *a, struct mseg_agent_endpoint *ep,
			       struct mseg_op_error *e);
/*
 * Start-up: reserves the addresses of ready endpoints and reaps those left "creating" or
 * "deleting". Returns the number reaped or a negative errno (logged with the endpoint named).
 */
int mseg_agent_endpoints_recover(struct mseg_agent *a);
/* <state-dir>/logs/<ns>_<name>.log */
void mseg_agent_endpoint_log_path(const struct mseg_agent *a, const struct mseg_agent_endpoint *ep,
				  char *buf, size_t len);
/* What ps shows: creating, running, exited (N), deleting, lost (namespace gone). */
void mseg_agent_endpoint_status(const struct mseg_agent_endpoint *ep, char *buf, size_t len);

#endif
