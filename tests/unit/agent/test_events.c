// SPDX-License-Identifier: Apache-2.0
/*
 * agent/events*.c: records name endpoints, world and the deciding policies (every isolating
 * policy for isolation drops), the per-endpoint rate limit counts what it sheds, the ring is
 * bounded and ordered, filters and selectors, flow log rotation; agent/audit_scope.c: the
 * transform of compiled entries and the scope-change difference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/audit_scope.h"
#include "agent/events.h"
#include "agent/state.h"
#include "policy/cidr.h"
#include "policy/labels.h"
#include "policy/selector.h"
#include "policy/parse.h"
#include "policy/topology.h"

static const char topo_yaml[] =
    "namespaces:\n"
    "  - {name: prod, labels: {env: prod}}\n"
    "  - {name: dev, labels: {env: dev}}\n"
    "endpoints:\n"
    "  - {namespace: prod, name: web, labels: {app: web}, ip: 10.200.0.1}\n"
    "  - {namespace: prod, name: db, labels: {app: db}, ip: 10.200.0.2}\n"
    "  - {namespace: dev, name: web, labels: {app: web}, ip: 10.200.0.3}\n";

/* Two policies isolate prod/db for ingress; a ClusterPolicy denies dev -> prod. */
static const char pol_yaml[] = "apiVersion: networking.k8s.io/v1\n"
			       "kind: NetworkPolicy\n"
			       "metadata: {name: db-from-api, namespace: prod}\n"
			       "spec:\n"
			       "  podSelector: {matchLabels: {app: db}}\n"
			       "  ingress:\n"
			       "    - from: [{podSelector: {matchLabels: {app: api}}}]\n"
			       "      ports: [{port: 5432}]\n"
			       "---\n"
			       "apiVersion: networking.k8s.io/v1\n"
			       "kind: NetworkPolicy\n"
			       "metadata: {name: default-deny, namespace: prod}\n"
			       "spec:\n"
			       "  podSelector: {}\n"
			       "  policyTypes: [Ingress]\n"
			       "---\n"
			       "apiVersion: mseg.io/v1\n"
			       "kind: ClusterPolicy\n"
			       "metadata: {name: dev-not-prod}\n"
			       "spec:\n"
			       "  tier: admin\n"
			       "  priority: 10\n"
			       "  subject: {namespaceSelector: {matchLabels: {env: prod}}}\n"
			       "  ingress:\n"
			       "    - action: deny\n"
			       "      from: [{namespaceSelector: {matchLabels: {env: dev}}}]\n";

struct fixture {
	struct mseg_topology topo;
	struct mseg_policy_set set;
	struct mseg_compile_opts opts;
	struct mseg_events_context ctx;
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mseg_diag diag = {0};

	assert_non_null(f);
	assert_int_equal(
	    mseg_topology_parse_buffer("topo.yaml", topo_yaml, strlen(topo_yaml), &f->topo, &diag),
	    0);
	if (mseg_policy_parse_buffer("pol.yaml", pol_yaml, strlen(pol_yaml), &f->set, &diag) < 0) {
		for (size_t i = 0; i < diag.n; i++) {
			char *m = mseg_diag_entry_format(&diag.items[i]);
			fprintf(stderr, "%s\n", m);
			free(m);
		}
		fail();
	}
	mseg_diag_free(&diag);
	for (size_t i = 0; i < f->topo.n_endpoints; i++)
		f->topo.endpoints[i].id = (uint32_t)(i + 1);
	f->ctx =
	    (struct mseg_events_context){.topo = &f->topo, .policies = &f->set, .opts = &f->opts};
	strcpy(f->dir, "/tmp/mseg-test-events-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mseg_topology_free(&f->topo);
	mseg_policy_set_free(&f->set);
	rm_dir(f->dir);
	free(f);
	return 0;
}

static struct mseg_cidr ip(const char *s)
{
	struct mseg_cidr c;
	const char *why;

	assert_int_equal(mseg_cidr_parse(s, true, &c, &why), 0);
	c.prefixlen = 32;
	return c;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A TCP drop at prod/db's ingress from src. */
static struct mseg_dp_event drop_to_db(const char *src, uint32_t src_id, uint16_t reason,
				       struct mseg_decider by)
{
	return (struct mseg_dp_event){
	    .time_ns = now_ns(),
	    .endpoint = 2,
	    .dir = MSEG_DIR_INGRESS,
	    .verdict = MSEG_EVENT_DROPPED,
	    .reason = reason,
	    .proto = MSEG_PROTO_TCP,
	    .saddr = ip(src),
	    .daddr = ip("10.200.0.2"),
	    .sport = 40000,
	    .dport = 5432,
	    .src_identity = src_id,
	    .dst_identity = 257,
	    .decided_by = by,
	};
}

static const char *str(const json_t *o, const char *path)
{
	char buf[128], *save = NULL;
	const json_t *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k)) : json_object_get(v, k);
	return json_string_value(v);
}

static void test_enrich_isolation_names_every_policy(void **state)
{
	struct fixture *f = *state;
	/* the datapath names the lowest isolating policy only (id 1) */
	struct mseg_dp_event e =
	    drop_to_db("10.200.0.1", 256, MSEG_DROP_ISOLATED,
		       (struct mseg_decider){.kind = MSEG_DECIDED_ISOLATION, .policy = 1});
	json_t *rec = mseg_events_enrich(&f->ctx, "node1", &e);
	json_t *iso;

	assert_non_null(rec);
	assert_string_equal(str(rec, "node"), "node1");
	assert_string_equal(str(rec, "verdict"), "dropped");
	assert_string_equal(str(rec, "reason"), "isolated");
	assert_string_equal(str(rec, "direction"), "ingress");
	assert_string_equal(str(rec, "protocol"), "TCP");
	assert_string_equal(str(rec, "source.namespace"), "prod");
	assert_string_equal(str(rec, "source.name"), "web");
	assert_string_equal(str(rec, "source.labels.app"), "web");
	assert_string_equal(str(rec, "source.ip"), "10.200.0.1");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(rec, "source"), "identity")), 256);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(rec, "destination"), "port")), 5432);
	assert_string_equal(str(rec, "endpoint.name"), "db");
	assert_string_equal(str(rec, "decided_by.kind"), "isolation");
	iso = json_object_get(json_object_get(rec, "decided_by"), "isolated_by");
	assert_int_equal(json_array_size(iso), 2);
	assert_string_equal(str(iso, "0.name"), "db-from-api");
	assert_string_equal(str(iso, "0.policy_kind"), "NetworkPolicy");
	assert_string_equal(str(iso, "0.namespace"), "prod");
	assert_string_equal(str(iso, "1.name"), "default-deny");
	assert_non_null(str(rec, "time"));
	json_decref(rec);
}

static void test_enrich_rule_and_world(void **state)
{
	struct fixture *f = *state;
	struct mseg_dp_event e = drop_to_db(
	    "10.200.0.3", 258, MSEG_DROP_POLICY_DENY,
	    (struct mseg_decider){
		.kind = MSEG_DECIDED_RULE, .policy = 3, .rule = 0, .dir = MSEG_DIR_INGRESS});
	json_t *rec = mseg_events_enrich(&f->ctx, "n", &e);

	assert_string_equal(str(rec, "reason"), "policy-deny");
	assert_string_equal(str(rec, "decided_by.kind"), "policy");
	assert_string_equal(str(rec, "decided_by.policy_kind"), "ClusterPolicy");
	assert_string_equal(str(rec, "decided_by.name"), "dev-not-prod");
	assert_null(json_object_get(json_object_get(rec, "decided_by"), "namespace"));
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(rec, "decided_by"), "rule")), 0);
	assert_string_equal(str(rec, "source.namespace"), "dev");
	json_decref(rec);

	/* an address outside the cluster */
	e = drop_to_db("192.0.2.7", MSEG_ID_WORLD, MSEG_DROP_ISOLATED,
		       (struct mseg_decider){.kind = MSEG_DECIDED_ISOLATION, .policy = 1});
	rec = mseg_events_enrich(&f->ctx, "n", &e);
	assert_true(json_is_true(json_object_get(json_object_get(rec, "source"), "world")));
	assert_null(json_object_get(json_object_get(rec, "source"), "name"));
	assert_string_equal(str(rec, "source.ip"), "192.0.2.7");
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(rec, "decided_by"), "isolated_by")), 2);
	json_decref(rec);

	/* a non-policy drop names nothing; ICMP carries type and code, no ports */
	e = drop_to_db("10.200.0.9", 2, MSEG_DROP_SPOOFED_IP,
		       (struct mseg_decider){.kind = (enum mseg_decider_kind)255});
	e.proto = MSEG_PROTO_ICMP;
	e.sport = 8;
	e.dport = 0;
	rec = mseg_events_enrich(&f->ctx, "n", &e);
	assert_string_equal(str(rec, "decided_by.kind"), "none");
	assert_string_equal(str(rec, "reason"), "spoofed-ip");
	assert_string_equal(str(rec, "protocol"), "ICMP");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "icmp"), "type")),
			 8);
	assert_null(json_object_get(json_object_get(rec, "destination"), "port"));
	json_decref(rec);

	/* without a context: numbers only, no crash */
	e = drop_to_db("10.200.0.1", 256, MSEG_DROP_POLICY_DENY,
		       (struct mseg_decider){.kind = MSEG_DECIDED_RULE, .policy = 9});
	rec = mseg_events_enrich(NULL, "n", &e);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(rec, "decided_by"), "policy_id")),
	    9);
	assert_true(json_is_true(json_object_get(json_object_get(rec, "source"), "world")) ||
		    json_object_get(json_object_get(rec, "source"), "identity"));
	json_decref(rec);
}

static void test_enrich_cache_reuses_isolation(void **state)
{
	struct fixture *f = *state;
	struct mseg_events_cache cache = {0};
	struct mseg_events_context ctx = f->ctx;
	struct mseg_dp_event e =
	    drop_to_db("10.200.0.1", 256, MSEG_DROP_ISOLATED,
		       (struct mseg_decider){.kind = MSEG_DECIDED_ISOLATION, .policy = 1});

	ctx.cache = &cache;
	for (int i = 0; i < 3; i++) {
		json_t *rec = mseg_events_enrich(&ctx, "n", &e);
		json_t *iso = json_object_get(json_object_get(rec, "decided_by"), "isolated_by");

		assert_int_equal(json_array_size(iso), 2);
		assert_string_equal(str(iso, "1.name"), "default-deny");
		/* a caller changing its record leaves the cached list alone */
		json_array_clear(iso);
		json_decref(rec);
	}
	assert_int_equal(cache.n, 1);
	/* another flow (a different port) is another entry */
	e.dport = 5433;
	json_decref(mseg_events_enrich(&ctx, "n", &e));
	assert_int_equal(cache.n, 2);
	mseg_events_cache_clear(&cache);
	assert_int_equal(cache.n, 0);
}

static struct mseg_events *events_new(struct fixture *f, size_t ring, double rate, double burst,
				      bool log)
{
	struct mseg_events_config cfg;
	struct mseg_events *ev = NULL;

	mseg_events_config_default(&cfg);
	cfg.node = "node1";
	cfg.ring = ring;
	cfg.rate = rate;
	cfg.burst = burst;
	cfg.log_dir = log ? f->dir : NULL;
	assert_int_equal(mseg_events_new(&ev, &cfg), 0);
	return ev;
}

static json_t *list(struct mseg_events *ev, const char *args_json)
{
	json_t *args = json_loads(args_json, 0, NULL), *ret = NULL;
	struct mseg_events_filter *flt = NULL;
	struct mseg_op_error e = {0};

	assert_non_null(args);
	assert_int_equal(mseg_events_filter_parse(args, &flt, &e), 0);
	assert_int_equal(mseg_events_list(ev, flt, &ret), 0);
	mseg_events_filter_free(flt);
	json_decref(args);
	return ret;
}

static void test_rate_limit_counts_what_it_sheds(void **state)
{
	struct fixture *f = *state;
	struct mseg_events *ev = events_new(f, 64, 1.0, 5, false);
	struct mseg_dp_event e = drop_to_db("10.200.0.3", 258, MSEG_DROP_POLICY_DENY,
					    (struct mseg_decider){.policy = 3});
	struct mseg_events_stats st;

	for (int i = 0; i < 100; i++)
		assert_int_equal(mseg_events_push(ev, &f->ctx, &e, true), 0);
	/* another endpoint has its own bucket */
	e.endpoint = 1;
	e.dir = MSEG_DIR_EGRESS;
	for (int i = 0; i < 3; i++)
		assert_int_equal(mseg_events_push(ev, &f->ctx, &e, true), 0);
	mseg_events_lost_datapath(ev, 7);
	mseg_events_stats_get(ev, &st);
	assert_int_equal(st.received, 103);
	assert_int_equal(st.stored, 8);
	assert_int_equal(st.lost_rate_limit, 95);
	assert_int_equal(st.lost_datapath, 7);
	assert_int_equal(st.by_verdict[MSEG_EVENT_DROPPED], 103);
	/* drops are counted by reason and direction before shedding */
	assert_int_equal(st.drops[MSEG_DROP_POLICY_DENY][MSEG_DIR_INGRESS], 100);
	assert_int_equal(st.drops[MSEG_DROP_POLICY_DENY][MSEG_DIR_EGRESS], 3);
	json_t *s = mseg_events_stats_to_json(&st);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "lost"), "total")),
			 102);
	json_decref(s);
	mseg_events_free(ev);
}

static void test_ring_bounded_and_filters(void **state)
{
	struct fixture *f = *state;
	struct mseg_events *ev = events_new(f, 4, 0, 0, false);
	json_t *l;

	for (int i = 0; i < 10; i++) {
		struct mseg_dp_event e =
		    drop_to_db(i % 2 ? "10.200.0.3" : "10.200.0.1", 256, MSEG_DROP_POLICY_DENY,
			       (struct mseg_decider){.policy = 3});

		e.sport = (uint16_t)(1000 + i);
		e.dport = i == 9 ? 80 : 5432;
		e.verdict = i == 8 ? MSEG_EVENT_AUDIT : MSEG_EVENT_DROPPED;
		assert_int_equal(mseg_events_push(ev, &f->ctx, &e, true), 0);
	}
	l = list(ev, "{}");
	assert_int_equal(json_array_size(l), 4); /* the newest 4, oldest first */
	for (int i = 0; i < 4; i++)
		assert_int_equal(
		    json_integer_value(json_object_get(
			json_object_get(json_array_get(l, (size_t)i), "source"), "port")),
		    1006 + i);
	json_decref(l);
	l = list(ev, "{\"verdict\": \"audit\"}");
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
	l = list(ev, "{\"verdict\": [\"audit\", \"dropped\"], \"last\": 2}");
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(json_array_get(l, 0), "source"), "port")),
			 1008);
	json_decref(l);
	l = list(ev, "{\"from\": \"dev/web\"}");
	assert_int_equal(json_array_size(l), 2); /* 1007, 1009 */
	json_decref(l);
	l = list(ev, "{\"from\": \"app=web,env notin (x)\", \"to\": \"app in (db)\"}");
	assert_int_equal(json_array_size(l), 4);
	json_decref(l);
	l = list(ev, "{\"from\": \"app!=web\"}");
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	l = list(ev, "{\"port\": \"80/tcp\"}");
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
	l = list(ev, "{\"port\": \"80/udp\"}");
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	l = list(ev, "{\"since\": 3600, \"packets\": true}");
	assert_int_equal(json_array_size(l), 4);
	json_decref(l);
	l = list(ev, "{\"to\": \"world\"}");
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	mseg_events_free(ev);
}

static void test_filter_errors(void **state)
{
	static const char *bad[] = {
	    "{\"verdict\": \"blocked\"}", "{\"from\": \"a/b/c\"}",
	    "{\"to\": \"app in ()\"}",	  "{\"port\": \"http\"}",
	    "{\"port\": \"80/icmpx\"}",	  "{\"since\": -1}",
	    "{\"last\": \"x\"}",	  "{\"from\": 7}",
	    "{\"to\": \"Bad Key=1\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *args = json_loads(bad[i], 0, NULL);
		struct mseg_events_filter *flt = NULL;
		struct mseg_op_error e = {0};

		assert_true(mseg_events_filter_parse(args, &flt, &e) < 0);
		assert_null(flt);
		json_decref(args);
	}
	(void)state;
}

static void test_selector_strings(void **state)
{
	struct mseg_selector sel = {0};
	struct mseg_labels l = {0};
	const char *why;

	assert_int_equal(mseg_labels_set(&l, "app", "web"), 0);
	assert_int_equal(mseg_labels_set(&l, "tier", "front"), 0);
	assert_int_equal(
	    mseg_selector_parse_string("app=web, tier in (front,back), !legacy", &sel, &why), 0);
	assert_int_equal(sel.n_exprs, 3);
	assert_true(mseg_selector_matches(&sel, &l));
	mseg_selector_free(&sel);
	sel = (struct mseg_selector){0};
	assert_int_equal(mseg_selector_parse_string("app==web,tier", &sel, &why), 0);
	assert_true(mseg_selector_matches(&sel, &l));
	mseg_selector_free(&sel);
	sel = (struct mseg_selector){0};
	assert_int_equal(mseg_selector_parse_string("tier notin (front)", &sel, &why), 0);
	assert_false(mseg_selector_matches(&sel, &l));
	mseg_selector_free(&sel);
	sel = (struct mseg_selector){0};
	assert_int_equal(mseg_selector_parse_string("app=", &sel, &why), 0); /* empty value */
	assert_false(mseg_selector_matches(&sel, &l));
	mseg_selector_free(&sel);
	sel = (struct mseg_selector){0};
	assert_int_equal(mseg_selector_parse_string("", &sel, &why), -EINVAL);
	assert_int_equal(mseg_selector_parse_string("a,,b", &sel, &why), -EINVAL);
	assert_int_equal(mseg_selector_parse_string("a in b", &sel, &why), -EINVAL);
	assert_int_equal(mseg_selector_parse_string("-bad=1", &sel, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(sel.n_exprs, 0);
	mseg_labels_free(&l);
	(void)state;
}

static off_t file_size(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void test_flow_log_rotates(void **state)
{
	struct fixture *f = *state;
	struct mseg_events_config cfg;
	struct mseg_events *ev = NULL;
	struct mseg_dp_event e = drop_to_db("10.200.0.3", 258, MSEG_DROP_POLICY_DENY,
					    (struct mseg_decider){.policy = 3});
	char line[4096];
	FILE *fl;

	mseg_events_config_default(&cfg);
	cfg.log_dir = f->dir;
	cfg.log_max = 4096;
	cfg.log_files = 3;
	cfg.rate = 0;
	assert_int_equal(mseg_events_new(&ev, &cfg), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(mseg_events_push(ev, &f->ctx, &e, true), 0);
	mseg_events_free(ev); /* flushes */
	assert_true(file_size(f->dir, "flows.jsonl") > 0);
	assert_true(file_size(f->dir, "flows.jsonl") <= 4096);
	assert_true(file_size(f->dir, "flows.jsonl.1") > 3000);
	assert_true(file_size(f->dir, "flows.jsonl.1") <= 4096);
	assert_true(file_size(f->dir, "flows.jsonl.2") > 3000);
	assert_int_equal(file_size(f->dir, "flows.jsonl.3"), -1);
	/* every line is one complete record */
	snprintf(line, sizeof(line), "%s/flows.jsonl.1", f->dir);
	fl = fopen(line, "r");
	assert_non_null(fl);
	while (fgets(line, sizeof(line), fl)) {
		json_t *rec = json_loads(line, 0, NULL);

		assert_non_null(rec);
		assert_string_equal(str(rec, "decided_by.name"), "dev-not-prod");
		json_decref(rec);
	}
	fclose(fl);
}

static void test_config_checked(void **state)
{
	struct mseg_events_config cfg;
	struct mseg_events *ev = NULL;
	enum mseg_events_flows fl;

	mseg_events_config_default(&cfg);
	cfg.ring = 0;
	assert_int_equal(mseg_events_new(&ev, &cfg), -EINVAL);
	mseg_events_config_default(&cfg);
	cfg.log_max = 100;
	assert_int_equal(mseg_events_new(&ev, &cfg), -EINVAL);
	assert_null(ev);
	assert_int_equal(mseg_events_flows_parse("new", &fl), 0);
	assert_int_equal(fl, MSEG_FLOWS_NEW);
	assert_int_equal(mseg_events_flows_parse("some", &fl), -EINVAL);
	(void)state;
}

/* A state with endpoints 1 prod/web, 2 prod/db, 3 dev/web. */
static struct mseg_state *state_new(struct fixture *f)
{
	struct mseg_state *st = calloc(1, sizeof(*st));

	st->endpoints = calloc(3, sizeof(*st->endpoints));
	for (size_t i = 0; i < 3; i++) {
		st->endpoints[i] = calloc(1, sizeof(**st->endpoints));
		st->endpoints[i]->ep = f->topo.endpoints[i]; /* borrowed */
	}
	st->n_endpoints = 3;
	return st;
}

static void state_del(struct mseg_state *st)
{
	for (size_t i = 0; i < st->n_endpoints; i++)
		free(st->endpoints[i]);
	free(st->endpoints);
	free(st);
}

static void test_audit_scope(void **state)
{
	struct fixture *f = *state;
	struct mseg_state *st = state_new(f);
	struct mseg_audit_scope *s = NULL, *t = NULL, *back = NULL;
	struct mseg_decider deny_by = {.kind = MSEG_DECIDED_RULE, .policy = 3};
	struct mseg_table_entry entries[] = {
	    {.endpoint = 2,
	     .dir = 0,
	     .proto = 6,
	     .port_hi = 65535,
	     .remote = 258,
	     .verdict = MSEG_VERDICT_DENY,
	     .decided_by = deny_by},
	    {.endpoint = 2,
	     .dir = 0,
	     .proto = 6,
	     .port_lo = 5432,
	     .port_hi = 5432,
	     .remote = 256,
	     .verdict = MSEG_VERDICT_ALLOW},
	    {.endpoint = 3,
	     .dir = 1,
	     .proto = 0,
	     .port_hi = 65535,
	     .remote = 257,
	     .verdict = MSEG_VERDICT_DENY,
	     .decided_by = deny_by},
	};
	struct mseg_endpoint_default defs[3] = {
	    {.endpoint = 1, .verdict = MSEG_VERDICT_ALLOW},
	    {.endpoint = 2,
	     .verdict = MSEG_VERDICT_DENY,
	     .decided_by = {.kind = MSEG_DECIDED_ISOLATION, .policy = 1}},
	    {.endpoint = 3, .verdict = MSEG_VERDICT_ALLOW},
	};
	struct mseg_compiled table = {
	    .entries = entries, .n_entries = 3, .defaults = {defs, defs}, .n_defaults = 3};
	struct mseg_table_diff d = {0};
	char why[512] = "";

	assert_int_equal(mseg_audit_scope_load(f->dir, &s, why), 0);
	assert_false(mseg_audit_scope_covers(s, "prod", "db"));
	assert_int_equal(mseg_audit_scope_copy(s, &t), 0);
	assert_int_equal(mseg_audit_scope_set(t, "prod", NULL, true), 1);
	assert_int_equal(mseg_audit_scope_set(t, "prod", NULL, true), 0);
	assert_int_equal(mseg_audit_scope_set(t, "dev", "web", true), 1);
	assert_true(mseg_audit_scope_covers(t, "prod", "db"));
	assert_true(mseg_audit_scope_covers(t, "dev", "web"));
	assert_false(mseg_audit_scope_covers(t, "dev", "db"));
	assert_int_equal(mseg_audit_scope_set(t, "", NULL, true), -EINVAL);

	/* off -> on: both deny entries, the deny default of 2 and both defaults of 1 and 3 */
	assert_int_equal(mseg_audit_scope_diff(&table, st, s, t, &d), 0);
	assert_int_equal(d.n_removed, 2);
	assert_int_equal(d.n_added, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(d.removed[i].verdict, MSEG_VERDICT_DENY);
		assert_int_equal(d.added[i].verdict, MSEG_VERDICT_ALLOW);
		assert_int_equal(d.added[i].audit, 1);
		assert_int_equal(d.added[i].audit_by.policy, 3);
		assert_int_equal(d.added[i].decided_by.policy, 3);
	}
	assert_int_equal(d.n_defaults_changed[0], 3);
	assert_int_equal(d.defaults_changed[0][1].verdict, MSEG_VERDICT_ALLOW);
	assert_int_equal(d.defaults_changed[0][1].audit, 1);
	assert_int_equal(d.defaults_changed[0][1].audit_by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(d.defaults_changed[0][0].audit, 0);
	mseg_table_diff_free(&d);
	d = (struct mseg_table_diff){0};

	/* the reconciler's hook: a diff of the compiler transformed for what is in scope */
	struct mseg_table_entry add[2] = {entries[0], entries[1]};
	struct mseg_table_diff hook = {.added = add, .n_added = 2};
	assert_int_equal(mseg_audit_scope_transform(t, st, &hook), 0);
	assert_int_equal(add[0].verdict, MSEG_VERDICT_ALLOW);
	assert_int_equal(add[0].audit, 1);
	assert_int_equal(add[1].audit, 0);
	add[0] = entries[0];
	assert_int_equal(mseg_audit_scope_transform(s, st, &hook), 0); /* empty scope */
	assert_int_equal(add[0].verdict, MSEG_VERDICT_DENY);

	/* persisted and loaded back */
	assert_int_equal(mseg_audit_scope_save(t), 0);
	assert_int_equal(mseg_audit_scope_load(f->dir, &back, why), 0);
	assert_true(mseg_audit_scope_covers(back, "prod", "web"));
	assert_true(mseg_audit_scope_covers(back, "dev", "web"));
	/* on -> off for dev/web only */
	assert_int_equal(mseg_audit_scope_set(back, "dev", "web", false), 1);
	assert_int_equal(mseg_audit_scope_diff(&table, st, t, back, &d), 0);
	assert_int_equal(d.n_added, 1);
	assert_int_equal(d.added[0].endpoint, 3);
	assert_int_equal(d.added[0].verdict, MSEG_VERDICT_DENY);
	assert_int_equal(d.removed[0].audit, 1);
	mseg_table_diff_free(&d);
	mseg_audit_scope_free(back);
	mseg_audit_scope_free(t);
	mseg_audit_scope_free(s);
	state_del(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_enrich_isolation_names_every_policy, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_rule_and_world, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_cache_reuses_isolation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limit_counts_what_it_sheds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_bounded_and_filters, setup, teardown),
	    cmocka_unit_test(test_filter_errors),
	    cmocka_unit_test(test_selector_strings),
	    cmocka_unit_test_setup_teardown(test_flow_log_rotates, setup, teardown),
	    cmocka_unit_test(test_config_checked),
	    cmocka_unit_test_setup_teardown(test_audit_scope, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
