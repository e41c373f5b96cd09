/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's desired and recorded state: namespaces and local endpoints, kept in memory and
 * persisted in the state directory through agent/store.h:
 *   namespaces.json  {"version": 1, "namespaces": [{"name", "labels"}]}
 *   endpoints.json   {"version": 1, "next_id": N, "endpoints": [{...}]}
 * The endpoint id counter lives in the same file as the endpoints, so an id is never handed
 * out twice even across a crash. IPAM needs no file of its own: the allocations are the
 * endpoints' addresses, reserved again on start.
 *
 * The state owns every namespace and endpoint in it; pointers returned by the lookups stay
 * valid until that object is removed.
 */
#ifndef MSEG_AGENT_STATE_H
#define MSEG_AGENT_STATE_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/model.h"

#define MSEG_NAMESPACE_NAME_LABEL "kubernetes.io/metadata.name"

/*
 * Lifecycle. CREATING and DELETING are intents persisted before the kernel objects are made
 * or removed: an endpoint found in either state on start was interrupted and gets reaped.
 */
enum mseg_ep_state {
	MSEG_EP_CREATING,
	MSEG_EP_READY,
	MSEG_EP_DELETING,
};

struct mseg_agent_endpoint {
	struct mseg_endpoint ep; /* id, namespace, name, labels, ports, ip */
	enum mseg_ep_state state;
	char *netns;		  /* name under /run/netns */
	char ifname[IF_NAMESIZE]; /* host-side veth */
	int ifindex;
	uint8_t host_mac[6];
	uint8_t container_mac[6];
	pid_t pid;     /* detached command started by the agent; 0 when none */
	char *command; /* that command, for display; NULL when none */
	/* not persisted: what this agent saw of its own children */
	bool exited;
	int exit_status; /* wait status */
	/* its stored form (compact JSON) as last written, and the state it was written in */
	char *record;
	enum mseg_ep_state record_state;
};

struct mseg_state {
	char *dir;
	struct mseg_namespace *namespaces;
	size_t n_namespaces;
	struct mseg_agent_endpoint **endpoints;
	size_t n_endpoints;
	uint32_t next_endpoint_id;
};

/*
 * Loads the state directory (missing files: empty state). A corrupt or inconsistent file is
 * -EBADMSG with why (MSEG_STORE_WHY_LEN bytes) naming the path and what is wrong; the file is
 * left untouched.
 */
int mseg_state_load(const char *dir, struct mseg_state **ret, char *why);
void mseg_state_free(struct mseg_state *s);
int mseg_state_save_namespaces(const struct mseg_state *s);
/* Writes endpoints.json (as mseg_state_write_boot_json() does), serialising every endpoint. */
int mseg_state_save_endpoints(struct mseg_state *s);
/*
 * The same after a change to changed, or after a removal (changed NULL): the stored form of
 * every other endpoint is reused from the last write, so a write serialises one endpoint, not
 * all of them (with 1,000 endpoints that took ~80 ms on a loaded machine, twice per `mseg run`).
 * So whatever changes a persisted field of an endpoint passes it here, or saves them all.
 */
int mseg_state_save_endpoint_change(struct mseg_state *s, struct mseg_agent_endpoint *changed);
/*
 * intent.json: the endpoint being created (state "creating") or removed ("deleting"), written
 * before the kernel sees anything so that a restarted agent reaps it. At most one: the agent
 * does one endpoint at a time. endpoints.json lists an endpoint from the moment it is ready, so
 * `mseg run` and `mseg rm` each cost one synced write (endpoints.json), not two. The intent is
 * renamed into place without fsync: that orders it before the kernel work for any crash of the
 * agent, and only a power cut can lose or tear it, after which the reboot has removed the
 * kernel objects it described; a torn or stale intent is then set aside on load.
 */
int mseg_state_intent_save(struct mseg_state *s, struct mseg_agent_endpoint *ep);
/* Removes intent.json (0 when absent): after the write of endpoints.json that completes it. */
int mseg_state_intent_clear(struct mseg_state *s);
/*
 * Atomically replaces DIR/NAME with doc, for records of what lives only as long as the boot:
 * endpoints (namespaces, links, routes) and the identities of the pinned maps (bpffs). Like
 * mseg_store_write_json(), a crash of the agent leaves the old or the new document, and the
 * data is synced before the rename, so the file is never torn, not even by a power cut. Unlike
 * it, the directory is not synced: a power cut may undo the last renames and leave an earlier
 * complete version, which describes kernel objects that the reboot removed anyway (its ready
 * endpoints show as lost, its interrupted ones are reaped, as after any crash). That saves one
 * of the two fsyncs of each write on the path of every `mseg run` and `mseg rm`.
 */
int mseg_state_write_boot_json(const char *dir, const char *name, const json_t *doc);

struct mseg_namespace *mseg_state_namespace_find(const struct mseg_state *s, const char *name);
/*
 * Appends a namespace named name with labels (taken over on success), adding the automatic
 * kubernetes.io/metadata.name label. In memory only: the caller saves.
 */
int mseg_state_namespace_add(struct mseg_state *s, const char *name, struct mseg_labels *labels,
			     struct mseg_namespace **ret);
void mseg_state_namespace_remove_last(struct mseg_state *s);

struct mseg_agent_endpoint *mseg_state_endpoint_find(const struct mseg_state *s, const char *ns,
						     const char *name);
/* Takes ep over on success (in memory only: the caller saves). */
int mseg_state_endpoint_add(struct mseg_state *s, struct mseg_agent_endpoint *ep);
/* Unlinks ep from the state (does not free it). */
void mseg_state_endpoint_unlink(struct mseg_state *s, struct mseg_agent_endpoint *ep);
void mseg_agent_endpoint_free(struct mseg_agent_endpoint *ep);

const char *mseg_ep_state_name(enum mseg_ep_state st);
const char *mseg_proto_name(uint8_t proto);
json_t *mseg_namespace_to_json(const struct mseg_namespace *ns);
/* The stored form: everything needed to tear the endpoint down after a restart. */
json_t *mseg_agent_endpoint_to_json(const struct mseg_agent_endpoint *ep);

#endif
