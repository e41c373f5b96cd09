/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster's state, shared by agent/cluster*.c and agent/overlay.c only. */
#ifndef MSEG_AGENT_CLUSTER_INTERNAL_H
#define MSEG_AGENT_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent/cluster.h"
#include "agent/etcd.h"
#include "agent/overlay.h"

/* A sorted string -> string map (keys and values owned): the last-known content of etcd. */
struct mseg_kvmap {
	struct mseg_kvmap_item {
		char *key;
		char *value;
	} * v;
	size_t n, cap;
};

const char *mseg_kvmap_get(const struct mseg_kvmap *m, const char *key);
int mseg_kvmap_set(struct mseg_kvmap *m, const char *key, const char *value);
void mseg_kvmap_del(struct mseg_kvmap *m, const char *key);
void mseg_kvmap_clear(struct mseg_kvmap *m);

struct mseg_cluster_node {
	char *name;
	struct mseg_cidr ip;	   /* underlay */
	struct mseg_cidr pod_cidr; /* 10.200.N.0/24 */
	uint32_t index;
	bool alive; /* its key is in etcd (its lease is renewed) */
};

struct mseg_cluster_remote {
	char *key; /* endpoints/<node>/<ns>/<name> under the prefix */
	char *node;
	struct mseg_endpoint ep; /* ep.id from MSEG_CLUSTER_REMOTE_ID_BASE */
	uint32_t identity;	 /* as the owning node published it */
	char *id_labels;	 /* the label set key it published */
};

struct mseg_cluster_worker;

struct mseg_cluster {
	struct mseg_cluster_options opt;
	char *prefix; /* "/mseg" */
	/*
	 * The loop's own client, for start-up (before the control socket serves) and for an
	 * identity a new local endpoint needs while etcd is known to answer; everything else
	 * goes through the worker (cluster_worker.c), so a dead etcd never stalls the loop.
	 */
	struct mseg_etcd *etcd;
	/* the loop's client for a local identity: a shorter timeout bounds the one stall */
	struct mseg_etcd *etcd_loop;
	struct mseg_cluster_worker *worker;
	bool lease_busy, resync_busy, publish_busy; /* a job of that kind is queued */
	struct mseg_kvmap allocating;		    /* label set keys queued for an id */
	struct mseg_etcd_watch *watch;
	int epfd;    /* watch fds + timer, one descriptor for the agent's loop */
	int timerfd; /* periodic tick */
	int watch_fds[8];
	size_t n_watch_fds;

	/* this node */
	struct mseg_cidr node_ip, pod_cidr, gateway;
	uint32_t index;
	uint32_t underlay_mtu;
	int64_t lease;
	unsigned ttl;
	struct timespec next_renew;

	/* etcd reachability and retry */
	bool store_up;	  /* the last unary call succeeded */
	bool need_resync; /* read everything again (start, compaction, reconnect) */
	bool need_publish;
	bool need_reconcile;
	bool synced_once;
	bool watch_down; /* the watch reported DISCONNECTED: resync when it is back */
	unsigned backoff_ms;
	struct timespec next_try;
	char last_error[256];
	struct timespec last_sync; /* realtime of the last full resync */
	uint64_t resyncs, watch_events;
	double last_resync_ms;	    /* read + merge of the last full resync */
	double resync_reconcile_ms; /* the reconcile that followed it */

	/* the cluster view */
	struct mseg_cluster_node *nodes;
	size_t n_nodes;
	struct mseg_cluster_remote *remotes;
	size_t n_remotes;
	uint32_t next_remote_id;
	struct mseg_kvmap ids;	      /* label set key -> id (mirror of ids/by-labels) */
	struct mseg_kvmap policies;   /* policies/... -> value as last seen in etcd */
	struct mseg_kvmap namespaces; /* namespaces/<name> -> value as last seen in etcd */
	struct mseg_kvmap published;  /* our endpoints/<node>/... and nodes/<node> as put */
	struct mseg_kvmap audit;      /* audit/... -> value as last seen in etcd */

	struct mseg_overlay *overlay;
	struct timespec last_reconcile; /* realtime */
	double last_reconcile_ms;
};

/* cluster_worker.c */
/* Runs on the worker thread with its client; returns 0 or -errno. data is the job's. */
typedef int (*mseg_cluster_job_run_fn)(struct mseg_etcd *etcd, void *data);
/* Runs on the loop with run's result and, when it failed, the client's message. */
typedef void (*mseg_cluster_job_done_fn)(struct mseg_agent *a, void *data, int r,
					 const char *error);
/* The worker and its eventfd (in c->epfd); timeout_ms: each call's. */
int mseg_cluster_worker_start(struct mseg_cluster *c, long timeout_ms);
/* Waits for the call in progress; queued jobs are dropped (free_data, no done). */
void mseg_cluster_worker_stop(struct mseg_cluster *c);
/* Queues a job; data is freed with free_data (may be NULL) after done, or on failure here. */
int mseg_cluster_submit(struct mseg_cluster *c, mseg_cluster_job_run_fn run,
			mseg_cluster_job_done_fn done, void (*free_data)(void *), void *data);
/* Jobs queued or running. */
size_t mseg_cluster_worker_pending(const struct mseg_cluster *c);
/* Runs the done() of every finished job, in submission order. */
void mseg_cluster_worker_process(struct mseg_agent *a);

/* cluster.c */
double mseg_cluster_now_ms(void);
/* Records a failed etcd call (store down, backoff grows); returns r. */
int mseg_cluster_store_failed(struct mseg_cluster *c, int r, const char *what);
/* The same for a worker's call, with the message it failed with. */
int mseg_cluster_store_failed_msg(struct mseg_cluster *c, int r, const char *what, const char *msg);
/* etcd answered the last call and the watch is up: worth a call from the loop. */
bool mseg_cluster_store_healthy(const struct mseg_cluster *c);
void mseg_cluster_store_ok(struct mseg_cluster *c);
bool mseg_cluster_store_usable(const struct mseg_cluster *c);
/* "<prefix>/<fmt...>" malloc'd */
char *mseg_cluster_key(const struct mseg_cluster *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After a full read at revision: the watch goes on from revision + 1. */
void mseg_cluster_resync_done(struct mseg_agent *a, int64_t revision);

/* A batch of etcd writes for the worker, and the map of what etcd holds each one updates. */
enum mseg_cluster_map {
	MSEG_CLUSTER_MAP_PUBLISHED,
	MSEG_CLUSTER_MAP_POLICIES,
	MSEG_CLUSTER_MAP_NAMESPACES,
	MSEG_CLUSTER_MAP_AUDIT,
};
struct mseg_cluster_publish;

/* cluster_sync.c */
/* Queues a put (value) or delete (value NULL) of key in the batch. */
int mseg_cluster_publish_add(struct mseg_cluster_publish *j, const char *key, const char *value,
			     int64_t lease, enum mseg_cluster_map map);
/* Blocking full resync (start-up only, before the control socket serves). */
int mseg_cluster_resync(struct mseg_agent *a);
/* The same through the worker: queued unless one is; need_resync cleared when it lands. */
void mseg_cluster_resync_submit(struct mseg_agent *a);
int mseg_cluster_watch_event(const struct mseg_etcd_event *ev, void *data);
/* Queues what differs between the local state and etcd on the worker (one batch at a time). */
int mseg_cluster_publish(struct mseg_agent *a);
void mseg_cluster_view_free(struct mseg_cluster *c);
/* Drops a node that is not alive from the view (removed for good); 1 if it was there. */
int mseg_cluster_node_forget(struct mseg_cluster *c, const char *name);

/* cluster_audit.c */
/* A watch event of audit/... (tail: the key after the prefix): applied here at once. */
void mseg_cluster_audit_event(struct mseg_agent *a, const char *key, const char *tail,
			      const char *value);
/*
 * After a full read: now holds the audit/... keys etcd has, old those it had as far as we
 * knew; the local scope becomes etcd's, except for changes made here while etcd was away
 * (published next). first: the first sync, where etcd is the truth. c->audit becomes now.
 */
void mseg_cluster_audit_resync(struct mseg_agent *a, struct mseg_kvmap *now, bool first);
/* Queues the writes that make etcd hold the local scope. */
int mseg_cluster_audit_publish(struct mseg_agent *a, struct mseg_cluster_publish *j);

/* cluster_topology.c */
/* The label set key of a local or remote endpoint (mseg_labels_format of its identity set). */
int mseg_cluster_id_labels(const struct mseg_agent *a, const struct mseg_endpoint *ep,
			   struct mseg_labels *labels, char **key);
void mseg_cluster_remote_clear(struct mseg_cluster_remote *r);

#endif
