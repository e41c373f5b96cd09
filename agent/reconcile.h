/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reconciler: desired state (namespaces, local endpoints, policies in the store) ->
 * compiled rule table (policy/compile.h) -> the difference applied through the selected
 * datapath backend (agent/datapath.h). It runs after every change (apply, delete, label,
 * run, rm) and on start. New identities are recorded in the store as they appear.
 */
#ifndef MSEG_AGENT_RECONCILE_H
#define MSEG_AGENT_RECONCILE_H

#include "agent/agent.h"
#include "agent/datapath.h"

/*
 * Start-up: loads identities and policies from the state directory, purges the previous
 * backend's objects when --datapath changed, opens the backend (adopting what is pinned or
 * programmed). Logs what failed.
 */
int mseg_agent_enforce_open(struct mseg_agent *a);
/* Start-up, after endpoint recovery: reconcile, then (re-)attach every ready endpoint. */
int mseg_agent_enforce_start(struct mseg_agent *a);
/* Releases the handles; enforcement stays in place. NULL-safe parts. */
void mseg_agent_enforce_close(struct mseg_agent *a);

/* Compiles the current state and applies the difference. e (may be NULL) says what failed. */
int mseg_agent_reconcile(struct mseg_agent *a, struct mseg_op_error *e);

/* The identity the last reconcile gave endpoint id (0 when unknown). */
uint32_t mseg_agent_endpoint_identity(const struct mseg_agent *a, uint32_t endpoint_id);

/* Datapath attach/detach of one endpoint (no-ops without a datapath). */
int mseg_agent_endpoint_attach(struct mseg_agent *a, const struct mseg_agent_endpoint *ep);
int mseg_agent_endpoint_detach(struct mseg_agent *a, const struct mseg_agent_endpoint *ep);

#endif
