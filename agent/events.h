/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event pipeline of msegd (DESIGN.md §8, issue 6): every datapath event of either backend
 * (struct mseg_dp_event) is rate limited per endpoint, enriched into one JSON record naming
 * endpoints (namespace, name, labels, identity; "world" outside the cluster) and the deciding
 * policy and rule (for isolation drops: every policy that isolated the endpoint, from the
 * reference evaluator), then kept in a bounded in-memory ring, appended to the flow log
 * <state-dir>/flows.jsonl (rotated by size) and pushed to followers (events.follow).
 *
 * Nothing is silent: events the datapath could not deliver (ring buffer full, NFLOG socket
 * overrun), events over an endpoint's rate, events a slow follower could not take and failed
 * log writes are all counted (mseg_events_stats).
 *
 * Files: events.c (pipeline, ring, rate limit, followers), events_enrich.c (the JSON record),
 * events_log.c (flow log), events_filter.c (the filters of events.list/follow, observe's
 * options), ops_events.c (control ops). The pipeline owns everything it stores; it only
 * borrows the context (topology, policies) for the duration of one call.
 */
#ifndef MSEG_AGENT_EVENTS_H
#define MSEG_AGENT_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath.h"
#include "agent/request.h"
#include "bpf/abi.h"
#include "policy/compile.h"
#include "policy/model.h"

struct mseg_state;

#define MSEG_EVENTS_RING_DEFAULT 8192
#define MSEG_EVENTS_LOG_MAX_DEFAULT (16ull << 20) /* bytes per flow log file */
#define MSEG_EVENTS_LOG_FILES_DEFAULT 4		  /* flows.jsonl + flows.jsonl.1..3 */
#define MSEG_EVENTS_RATE_DEFAULT 1000.0		  /* events per second per endpoint */
#define MSEG_EVENTS_BURST_DEFAULT 2000.0
/* A follower more than this many bytes behind loses events (counted) instead of growing. */
#define MSEG_EVENTS_FOLLOWER_BACKLOG (4u << 20)

/* msegd --flows: which allowed flows become events (drops and audits always do). */
enum mseg_events_flows {
	MSEG_FLOWS_NONE,
	MSEG_FLOWS_NEW, /* each allowed new connection, at each enforcing side */
	MSEG_FLOWS_ALL, /* the same: the datapath reports new flows only (no per-packet events) */
};

struct mseg_events_config {
	const char *node;
	const char *log_dir; /* flows.jsonl goes here; NULL: no flow log */
	size_t ring;	     /* events kept in memory, >= 1 */
	uint64_t log_max;    /* bytes of one flow log file before it rotates, >= 4096 */
	unsigned log_files;  /* files kept, counting the current one, >= 1 */
	double rate, burst;  /* per-endpoint token bucket; rate 0: unlimited */
};

/* Fills cfg with the defaults above (node and log_dir NULL). */
void mseg_events_config_default(struct mseg_events_config *cfg);
/* Parses "none|new|all"; -EINVAL otherwise. */
int mseg_events_flows_parse(const char *s, enum mseg_events_flows *ret);

/*
 * What enrichment reads, borrowed for one call: the desired state as the reconciler compiled
 * it. Any pointer may be NULL (then the record carries what the datapath said: addresses,
 * identities, numeric policy ids).
 */
/*
 * The isolating policies of recent flows, valid while the context does not change (one
 * batch): a flood of drops of one flow asks the reference evaluator once, not per packet.
 */
#define MSEG_EVENTS_CACHE_N 32
struct mseg_events_cache {
	struct mseg_events_cache_entry {
		uint32_t endpoint;
		uint8_t dir, proto;
		uint16_t port;
		uint8_t saddr[4], daddr[4];
		json_t *isolated_by; /* owned */
	} e[MSEG_EVENTS_CACHE_N];
	size_t n, next;
};
void mseg_events_cache_clear(struct mseg_events_cache *c);

struct mseg_events_context {
	const struct mseg_topology *topo;	/* namespaces and endpoints, local and remote */
	const struct mseg_policy_set *policies; /* in force, with the agent's policy ids */
	const struct mseg_compile_opts *opts;	/* --default-deny */
	const struct mseg_state *state;		/* local endpoints: interface names */
	struct mseg_events_cache *cache;	/* optional, for one batch */
};

struct mseg_events;

int mseg_events_new(struct mseg_events **ret, const struct mseg_events_config *cfg);
/* Flushes the flow log and ends every follower. NULL-safe. */
void mseg_events_free(struct mseg_events *ev);

/*
 * The one call per readable event fd: reads up to MSEG_EVENTS_BUDGET waiting events from the
 * backend (ops->events_read), folds in the backend's lost-event count and processes each event.
 * Returns the number of events read or a negative errno (the pipeline stays usable).
 */
int mseg_events_ingest(struct mseg_events *ev, const struct mseg_events_context *ctx,
		       const struct mseg_datapath_ops *ops, struct mseg_datapath *dp);
/*
 * Processes one event (what ingest does per event; tests feed events here). link: the layer
 * pkt starts at (true: Ethernet, the bpf backend; false: IPv4, the nft backend).
 */
int mseg_events_push(struct mseg_events *ev, const struct mseg_events_context *ctx,
		     const struct mseg_dp_event *e, bool link);
/* Events read per wake-up: a drop flood costs the loop at most this many before the control
 * socket is served again. */
#define MSEG_EVENTS_BUDGET 1024

/* Adds n events the datapath reports as lost (cumulative counters: pass the increase). */
void mseg_events_lost_datapath(struct mseg_events *ev, uint64_t n);

struct mseg_events_stats {
	uint64_t received;	  /* events read from the datapath */
	uint64_t stored;	  /* kept (ring + log) */
	uint64_t lost_datapath;	  /* never reached the agent (ring buffer full, NFLOG overrun) */
	uint64_t lost_rate_limit; /* over an endpoint's rate */
	uint64_t lost_followers;  /* not delivered to a slow follower */
	uint64_t log_errors;	  /* flow log writes that failed */
	uint64_t by_verdict[3];	  /* received, by MSEG_EVENT_* */
	uint64_t drops[MSEG_DROP_REASON_MAX][2]; /* received drops by reason and dir */
	size_t ring_used, ring_size;
};

void mseg_events_stats_get(const struct mseg_events *ev, struct mseg_events_stats *ret);
json_t *mseg_events_stats_to_json(const struct mseg_events_stats *s);

/* ---- enrichment (events_enrich.c) ------------------------------------------------------ */

/*
 * The JSON record of one event (new reference, NULL on allocation failure):
 *   time (RFC 3339, UTC, microseconds), time_ns, node, direction (of the enforcing endpoint:
 *   ingress/egress), verdict (forwarded/dropped/audit), reason, reason_code, protocol,
 *   source and destination {namespace, name, labels, identity, ip, port} or {world: true,
 *   identity, ip, port} (port: TCP/UDP/SCTP only), icmp {type, code}, endpoint (the enforcing
 *   one: namespace/name), interface, decided_by {kind: policy|isolation|default|none, ...}.
 */
json_t *mseg_events_enrich(const struct mseg_events_context *ctx, const char *node,
			   const struct mseg_dp_event *e);
/* "2026-11-30T09:41:02.123456Z" */
void mseg_events_time_format(uint64_t time_ns, char buf[40]);

/* ---- flow log (events_log.c) ----------------------------------------------------------- */

struct mseg_flow_log;

/* <dir>/flows.jsonl, appended; rotated to flows.jsonl.1 .. .(files-1) past max bytes. */
int mseg_flow_log_open(struct mseg_flow_log **ret, const char *dir, uint64_t max, unsigned files);
void mseg_flow_log_close(struct mseg_flow_log *l);
/* Appends one line (a newline is added). */
int mseg_flow_log_write(struct mseg_flow_log *l, const char *line, size_t len);
int mseg_flow_log_flush(struct mseg_flow_log *l);

/* ---- filters (events_filter.c) --------------------------------------------------------- */

/*
 * The filters of events.list / events.follow, parsed from the request args:
 *   verdict "dropped|forwarded|audit" (or an array of them), from / to "NS/NAME", "world" or
 *   a label selector ("app=web,env!=dev,tier in (a,b),!legacy"), port "PORT[/PROTO]",
 *   since (seconds, a number), last N (list: the newest N matches).
 */
struct mseg_events_filter;

int mseg_events_filter_parse(json_t *args, struct mseg_events_filter **ret,
			     struct mseg_op_error *e);
void mseg_events_filter_free(struct mseg_events_filter *f);
/* true when the record (as enrich makes it) passes every filter; time as of now_ns */
bool mseg_events_filter_match(const struct mseg_events_filter *f, const json_t *record,
			      uint64_t now_ns);
/* Quick checks on what the ring keeps outside the record (no JSON parsing needed). */
bool mseg_events_filter_prematch(const struct mseg_events_filter *f, uint64_t time_ns,
				 uint8_t verdict, uint64_t now_ns);
size_t mseg_events_filter_last(const struct mseg_events_filter *f);  /* 0: all */
bool mseg_events_filter_packets(const struct mseg_events_filter *f); /* add packet bytes */

/*
 * A label selector in kubectl's -l syntax into sel (which must start zeroed): k=v, k==v,
 * k!=v, k, !k, k in (a,b), k notin (a,b), comma separated. -EINVAL with *why on bad input.
 */
int mseg_selector_parse_string(const char *s, struct mseg_selector *sel, const char **why);

/* ---- listing and following (events.c) -------------------------------------------------- */

/* The matching records of the ring, oldest first, as a JSON array (new reference). */
int mseg_events_list(struct mseg_events *ev, const struct mseg_events_filter *f, json_t **ret);
/*
 * Makes the connection of the request being served (agent/control.h) a follower: every later
 * matching record is sent to it as one line until it closes. Takes f over.
 */
int mseg_events_follow(struct mseg_events *ev, struct mseg_events_filter *f);
size_t mseg_events_followers(const struct mseg_events *ev);

/* ---- inside msegd (events_agent.c) ------------------------------------------------------ */

struct mseg_agent;
/*
 * After the datapath is open and before the first reconcile: loads the audit scope, creates
 * the pipeline, sets the datapath's allowed-flow reporting (--flows), starts metrics. Logs.
 */
int mseg_agent_inspect_start(struct mseg_agent *a);
/* After the control socket is gone (it ends followers). NULL-safe parts. */
void mseg_agent_inspect_stop(struct mseg_agent *a);
/* One fd for msegd's epoll set (datapath events and metrics), -1 if none; and its handler. */
int mseg_agent_inspect_fd(const struct mseg_agent *a);
void mseg_agent_inspect_process(struct mseg_agent *a);
/* Builds the enrichment context from the agent's state and policies, then ingests. */
int mseg_agent_events_ingest(struct mseg_agent *a);

/* Control ops (ops_events.c), ctx: struct mseg_agent with its events pipeline. */
int mseg_op_events_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_events_follow(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_events_stats(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_policy_hits(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);

#endif
