// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg probe`: the reachability matrix measured with real packets between the containers of
 * this node (tools/probe.h does the sending), printed exactly as `mseg policy matrix` prints
 * the evaluator's, so the two can be compared cell by cell.
 *
 * In a cluster, another node's container can be a destination of ICMP echo probes (its
 * kernel answers, through the overlay and its node's policy), but not of TCP, UDP or SCTP
 * ones: those need a listener inside the destination's network namespace, which only its own
 * node has. Naming such a container is an error that names its node.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "policy/labels.h"
#include "runtime/netns.h"
#include "tools/cli.h"
#include "tools/client.h"
#include "tools/matrix_format.h"
#include "tools/policy_offline.h"
#include "tools/probe.h"

#define PROBE_TIMEOUT_MS_MAX 60000

static void probe_usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: mseg probe --port PORT/PROTO [--from SEL] [--to SEL] [--timeout MS]\n"
	    "                  [-o text|json] [--socket PATH]\n"
	    "\n"
	    "Sends real traffic between the containers of this node and prints which source\n"
	    "reached which destination, in the format of `mseg policy matrix` (rows from,\n"
	    "columns to, '.' allowed, 'X' denied). In a cluster, --to may also pick other\n"
	    "nodes' containers for 8/icmp (their kernel answers); TCP, UDP and SCTP need a\n"
	    "listener in the destination, so run those on its node. Inside each destination\n"
	    "the probe listens\n"
	    "briefly on PORT (TCP/SCTP: accepts, UDP: echoes); from each source it connects\n"
	    "(TCP/SCTP) or sends a nonce and waits for its echo (UDP, sent twice) or sends an\n"
	    "ICMP echo request (8/icmp only). All pairs run at once: a matrix takes about one\n"
	    "timeout. A container reaching its own address never leaves its namespace, so the\n"
	    "diagonal is always allowed whatever the policy says.\n"
	    "\n"
	    "  --port PORT/PROTO  80/tcp, 53/udp, 3868/sctp or 8/icmp\n"
	    "  --from SEL         sources (default: every container of this node)\n"
	    "  --to SEL           destinations (default: every container of this node)\n"
	    "  --timeout MS       how long a pair may take (default %d)\n"
	    "  -o, --output FMT   text (default) or json, as `mseg policy matrix -o json`;\n"
	    "                     when --from and --to differ, \"sources\" and \"destinations\"\n"
	    "                     are added and \"endpoints\" lists both\n"
	    "  --socket PATH      msegd's control socket\n"
	    "  -h, --help         this help\n"
	    "\n"
	    "SEL is NS/NAME (one container), NS/* (a namespace), or comma-separated label\n"
	    "requirements as in kubectl: k=v, k==v, k!=v, 'k in (a,b)', 'k notin (a,b)', k,\n"
	    "!k. The key ns stands for the container's namespace (ns=prod); every other key\n"
	    "is a container label.\n"
	    "\n"
	    "The port must be free inside every destination. Exit status: 0 done, 1 failure\n"
	    "(agent unreachable, port taken, protocol unsupported), 2 usage error.\n",
	    MSEG_PROBE_TIMEOUT_MS_DEFAULT);
}

/* ---- selectors --------------------------------------------------------------------------- */

enum probe_op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOT_EXISTS };

struct probe_req {
	char *key;
	enum probe_op op;
	char **values;
	size_t n_values;
};

struct probe_sel {
	/* NS/NAME or NS/ (name NULL: the whole namespace) */
	char *ref_ns, *ref_name;
	struct probe_req *reqs;
	size_t n_reqs;
};

static void probe_sel_free(struct probe_sel *s)
{
	for (size_t i = 0; i < s->n_reqs; i++) {
		free(s->reqs[i].key);
		for (size_t v = 0; v < s->reqs[i].n_values; v++)
			free(s->reqs[i].values[v]);
		free(s->reqs[i].values);
	}
	free(s->reqs);
	free(s->ref_ns);
	free(s->ref_name);
	*s = (struct probe_sel){0};
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static int req_key(struct probe_req *q, const char *key, const char **why)
{
	if (strcmp(key, "ns") != 0 && mseg_label_key_check(key, why) < 0)
		return -EINVAL;
	q->key = strdup(key);
	return q->key ? 0 : -ENOMEM;
}

static int req_value(struct probe_req *q, const char *value, const char **why)
{
	char **v;

	if (mseg_label_value_check(value, why) < 0)
		return -EINVAL;
	v = realloc(q->values, (q->n_values + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	q->values = v;
	v[q->n_values] = strdup(value);
	if (!v[q->n_values])
		return -ENOMEM;
	q->n_values++;
	return 0;
}

/* One requirement ("k=v", "k in (a,b)", "!k", ...) into q; *why says what is wrong. */
static int req_parse(char *text, struct probe_req *q, const char **why)
{
	char *t = trim(text), *op, *sp, *list, *v;
	int r;

	*why = "expected k=v, k!=v, 'k in (a,b)', 'k notin (a,b)', k or !k";
	if (!*t)
		return -EINVAL;
	if (*t == '!' && !strchr(t, '=')) {
		q->op = OP_NOT_EXISTS;
		return req_key(q, trim(t + 1), why);
	}
	if ((op = strstr(t, "!=")) || (op = strchr(t, '='))) {
		bool ne = op[0] == '!', eq2 = !ne && op[1] == '=';

		*op = '\0';
		q->op = ne ? OP_NE : OP_EQ;
		r = req_key(q, trim(t), why);
		if (r < 0)
			return r;
		return req_value(q, trim(op + (ne || eq2 ? 2 : 1)), why);
	}
	sp = strpbrk(t, " \t");
	if (!sp) {
		q->op = OP_EXISTS;
		return req_key(q, t, why);
	}
	*sp = '\0';
	r = req_key(q, t, why);
	if (r < 0)
		return r;
	list = trim(sp + 1);
	if (!strncmp(list, "in", 2) && (list[2] == ' ' || list[2] == '(')) {
		q->op = OP_IN;
		list += 2;
	} else if (!strncmp(list, "notin", 5) && (list[5] == ' ' || list[5] == '(')) {
		q->op = OP_NOTIN;
		list += 5;
	} else {
		return -EINVAL;
	}
	list = trim(list);
	if (*list != '(' || list[strlen(list) - 1] != ')') {
		*why = "the values of in/notin go in parentheses: 'k in (a,b)'";
		return -EINVAL;
	}
	list[strlen(list) - 1] = '\0';
	for (list++; (v = strsep(&list, ",")) != NULL;) {
		r = req_value(q, trim(v), why);
		if (r < 0)
			return r;
	}
	return 0;
}

static int probe_sel_parse(const char *opt, const char *arg, struct probe_sel *ret)
{
	_cleanup_free_ char *copy = strdup(arg);
	struct probe_sel s = {0};
	const char *why = NULL;
	char *p, *start;
	int depth = 0, r;

	if (!copy)
		return log_errno(-ENOMEM, "%s", opt);
	/* a single NS/NAME, or NS/ and a star (no operator anywhere), names containers directly */
	if (strchr(arg, '/') && !strpbrk(arg, "=!(, ")) {
		const char *slash = strchr(arg, '/');

		s.ref_ns = strndup(arg, (size_t)(slash - arg));
		s.ref_name = strcmp(slash + 1, "*") ? strdup(slash + 1) : NULL;
		if (!s.ref_ns || (strcmp(slash + 1, "*") && !s.ref_name)) {
			probe_sel_free(&s);
			return log_errno(-ENOMEM, "%s", opt);
		}
		if (!*s.ref_ns || (s.ref_name && (!*s.ref_name || strchr(s.ref_name, '/')))) {
			probe_sel_free(&s);
			log_err("%s '%s': expected NS/NAME or NS/*", opt, arg);
			return -EINVAL;
		}
		*ret = s;
		return 0;
	}
	/* requirements, split at commas outside parentheses */
	for (p = start = copy;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		if ((*p == ',' && depth == 0) || !*p) {
			struct probe_req *q = realloc(s.reqs, (s.n_reqs + 1) * sizeof(*q));
			bool end = !*p;

			if (!q) {
				probe_sel_free(&s);
				return log_errno(-ENOMEM, "%s", opt);
			}
			s.reqs = q;
			q = &s.reqs[s.n_reqs++];
			*q = (struct probe_req){0};
			*p = '\0';
			r = req_parse(start, q, &why);
			if (r < 0) {
				probe_sel_free(&s);
				if (r == -ENOMEM)
					return log_errno(r, "%s", opt);
				log_err("%s '%s': %s", opt, arg, why);
				return r;
			}
			if (end)
				break;
			start = p + 1;
		}
	}
	*ret = s;
	return 0;
}

static bool req_matches(const struct probe_req *q, const char *ns, const json_t *labels)
{
	const char *v =
	    !strcmp(q->key, "ns") ? ns : json_string_value(json_object_get(labels, q->key));
	bool in = false;

	for (size_t i = 0; v && i < q->n_values; i++)
		in = in || !strcmp(v, q->values[i]);
	switch (q->op) {
	case OP_EQ:
	case OP_IN:
		return in;
	case OP_NE:
	case OP_NOTIN:
		/* as in Kubernetes: a missing key satisfies != and notin */
		return !in;
	case OP_EXISTS:
		return v != NULL;
	case OP_NOT_EXISTS:
		return v == NULL;
	}
	return false;
}

/* NULL selects everything. */
static bool probe_sel_matches(const struct probe_sel *s, const json_t *ep)
{
	const char *ns = json_string_value(json_object_get(ep, "namespace")) ?: "";
	const char *name = json_string_value(json_object_get(ep, "name")) ?: "";
	const json_t *labels = json_object_get(ep, "labels");

	if (!s)
		return true;
	if (s->ref_ns)
		return !strcmp(ns, s->ref_ns) && (!s->ref_name || !strcmp(name, s->ref_name));
	for (size_t i = 0; i < s->n_reqs; i++)
		if (!req_matches(&s->reqs[i], ns, labels))
			return false;
	return true;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

/* The containers of this node that a selector picks, with their namespaces open. */
struct probe_list {
	size_t n;
	struct mseg_probe_end *ends;
	char **names;
};

static void probe_list_free(struct probe_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->ends[i].netns_fd >= 0)
			close(l->ends[i].netns_fd);
		free(l->names[i]);
	}
	free(l->ends);
	free(l->names);
	*l = (struct probe_list){0};
}

/*
 * Another node's container (endpoint.cluster_list: state "remote"): usable as a destination of
 * ICMP echo probes only (remote_ok). Named by NS/NAME otherwise: an error naming its node;
 * picked by a broader selector: left out with a warning.
 */
static int probe_remote(const json_t *ep, const struct probe_sel *sel, const char *opt,
			bool remote_ok, struct mseg_probe_end *e, bool *use)
{
	const char *ns = json_string_value(json_object_get(ep, "namespace"));
	const char *name = json_string_value(json_object_get(ep, "name"));
	const char *ip = json_string_value(json_object_get(ep, "ip"));
	const char *node = json_string_value(json_object_get(ep, "node")) ?: "?";
	const char *why = remote_ok ? NULL
			  : !strcmp(opt, "--from")
			      ? "probes are sent from this node's containers"
			      : "TCP, UDP and SCTP probes need a listener inside the destination "
				"(8/icmp needs none)";

	*use = false;
	if (!sel)
		return 0; /* the default is this node's containers */
	if (why) {
		if (sel->ref_ns && sel->ref_name) {
			log_err("%s '%s/%s' runs on node '%s': %s; run mseg probe there", opt, ns,
				name, node, why);
			return -EREMOTE;
		}
		log_warn("'%s/%s' runs on node '%s': left out (%s)", ns, name, node, why);
		return 0;
	}
	if (!ip || inet_pton(AF_INET, ip, &e->ip) != 1) {
		log_warn("'%s/%s' on node '%s' has no IPv4 address: left out", ns, name, node);
		return 0;
	}
	e->netns_fd = -1;
	*use = true;
	return 0;
}

static int probe_list_fill(const json_t *eps, const struct probe_sel *sel, const char *opt,
			   bool remote_ok, struct probe_list *l)
{
	size_t n = json_array_size(eps), i;
	const json_t *ep;

	l->ends = calloc(n ? n : 1, sizeof(*l->ends));
	l->names = calloc(n ? n : 1, sizeof(*l->names));
	if (!l->ends || !l->names)
		return log_errno(-ENOMEM, "probe");
	json_array_foreach(eps, i, ep)
	{
		const char *ns = json_string_value(json_object_get(ep, "namespace"));
		const char *name = json_string_value(json_object_get(ep, "name"));
		const char *ip = json_string_value(json_object_get(ep, "ip"));
		const char *netns = json_string_value(json_object_get(ep, "netns"));
		struct mseg_probe_end *e = &l->ends[l->n];
		int fd, r;

		if (!ns || !name || !probe_sel_matches(sel, ep))
			continue;
		if (!strcmp(json_string_value(json_object_get(ep, "state")) ?: "", "remote")) {
			bool use;

			r = probe_remote(ep, sel, opt, remote_ok, e, &use);
			if (r < 0)
				return r;
			if (!use)
				continue;
			if (asprintf(&l->names[l->n], "%s/%s", ns, name) < 0)
				return log_errno(-ENOMEM, "probe");
			e->name = l->names[l->n++];
			continue;
		}
		if (!ip || inet_pton(AF_INET, ip, &e->ip) != 1 || !netns) {
			log_warn("'%s/%s' has no IPv4 address or namespace (state %s): left out",
				 ns, name,
				 json_string_value(json_object_get(ep, "state")) ?: "unknown");
			continue;
		}
		r = mseg_netns_open(netns, &fd);
		if (r == -ENOENT) {
			/* another node's container: its namespace is not here */
			log_warn("'%s/%s' is not on this node (no namespace '%s'): left out", ns,
				 name, netns);
			continue;
		}
		if (r < 0)
			return log_errno(r, "cannot open the namespace '%s' of '%s/%s'", netns, ns,
					 name);
		if (asprintf(&l->names[l->n], "%s/%s", ns, name) < 0) {
			close(fd);
			return log_errno(-ENOMEM, "probe");
		}
		e->netns_fd = fd;
		e->name = l->names[l->n++];
	}
	if (!l->n) {
		log_err("%s: no container of this node matches", opt);
		return -ENOENT;
	}
	return 0;
}

/* ---- the command -------------------------------------------------------------------------- */

static int probe_matrix_names(struct mseg_matrix *m, const struct probe_list *src,
			      const struct probe_list *dst)
{
	for (size_t i = 0; i < src->n; i++)
		if (!(m->rows[i] = strdup(src->names[i])))
			return -ENOMEM;
	for (size_t i = 0; i < dst->n; i++)
		if (!(m->cols[i] = strdup(dst->names[i])))
			return -ENOMEM;
	return 0;
}

int mseg_cmd_probe(int argc, char **argv)
{
	enum { OPT_PORT = 256, OPT_FROM, OPT_TO, OPT_TIMEOUT, OPT_SOCKET };
	static const struct option options[] = {
	    {"port", required_argument, NULL, OPT_PORT},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"to", required_argument, NULL, OPT_TO},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *port = NULL, *from = NULL, *to = NULL, *sock = NULL, *why;
	struct probe_sel from_sel = {0}, to_sel = {0};
	struct probe_list src = {0}, dst = {0};
	struct mseg_matrix m = {0};
	unsigned long timeout = MSEG_PROBE_TIMEOUT_MS_DEFAULT;
	json_t *eps = NULL;
	uint8_t proto;
	uint16_t pnum;
	bool json = false;
	char *end;
	int c, r, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_PORT:
			port = optarg;
			break;
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || !timeout ||
			    timeout > PROBE_TIMEOUT_MS_MAX) {
				log_err("--timeout '%s': expected milliseconds, 1-%d", optarg,
					PROBE_TIMEOUT_MS_MAX);
				return 2;
			}
			break;
		case 'o':
			if (!strcmp(optarg, "json")) {
				json = true;
			} else if (strcmp(optarg, "text") != 0) {
				log_err("--output '%s': expected text or json", optarg);
				return 2;
			}
			break;
		case OPT_SOCKET:
			sock = optarg;
			break;
		case 'h':
			probe_usage(stdout);
			return 0;
		default:
			probe_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		log_err("probe takes no arguments ('%s')", argv[optind]);
		return 2;
	}
	if (!port) {
		log_err("probe needs --port PORT/PROTO");
		probe_usage(stderr);
		return 2;
	}
	if (mseg_offline_parse_port(port, &proto, &pnum, &why) < 0) {
		log_err("--port '%s': %s", port, why);
		return 2;
	}
	if (proto == MSEG_PROTO_ICMP && pnum != 8 << 8) {
		log_err("--port '%s': only ICMP echo requests (8/icmp) can be probed", port);
		return 2;
	}
	if ((from && probe_sel_parse("--from", from, &from_sel) < 0) ||
	    (to && probe_sel_parse("--to", to, &to_sel) < 0)) {
		ret = 2;
		goto out;
	}

	/* this node's containers, then (in a cluster) the other nodes' ones */
	if (mseg_client_call(mseg_client_socket(sock), "endpoint.cluster_list", NULL, &eps) < 0)
		goto out;
	if (!json_is_array(eps)) {
		log_err("msegd answered endpoint.cluster_list with something else than a list");
		goto out;
	}
	if (probe_list_fill(eps, from ? &from_sel : NULL, "--from", false, &src) < 0 ||
	    probe_list_fill(eps, to ? &to_sel : NULL, "--to", proto == MSEG_PROTO_ICMP, &dst) < 0)
		goto out;
	r = mseg_matrix_init(&m, src.n, dst.n);
	if (r >= 0)
		r = probe_matrix_names(&m, &src, &dst);
	if (r < 0) {
		log_errno(r, "probe");
		goto out;
	}
	if (mseg_probe_run(src.ends, src.n, dst.ends, dst.n, proto, pnum, (unsigned)timeout,
			   m.allowed) < 0)
		goto out;
	if (json) {
		r = mseg_matrix_print_json(&m, proto, pnum, stdout);
		if (r < 0) {
			log_errno(r, "cannot print the matrix");
			goto out;
		}
	} else {
		mseg_matrix_print_text(&m, proto, pnum, stdout);
	}
	ret = 0;
out:
	mseg_matrix_free(&m);
	probe_list_free(&src);
	probe_list_free(&dst);
	probe_sel_free(&from_sel);
	probe_sel_free(&to_sel);
	json_decref(eps);
	return ret;
}
