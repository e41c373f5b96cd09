// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg map`: the service map of observed flows. Services (endpoints grouped by namespace and
 * `app` label, else by name; addresses outside the cluster as "world") are nodes; each
 * (source, destination, outcome) is an edge labelled with its ports and the number of
 * distinct flows (5-tuples): allowed green, audit orange, blocked red. dot text, SVG laid out
 * by graphviz's library (libgvc), or one self-contained HTML page embedding that SVG.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"
#include "tools/optional_graphviz.h"

/*
 * ASan builds (make SAN=1): graphviz keeps its plugin, layout and font caches until the
 * process ends, which LeakSanitizer would report as ours. Unused in normal builds.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libgvc.so\nleak:libcgraph.so\nleak:libfontconfig.so\nleak:libpango\n"
	       "leak:libcairo\nleak:libgvplugin\n";
}

struct edge {
	char *src, *dst;
	int outcome; /* 0 allowed, 1 audit, 2 blocked */
	char **ports;
	size_t n_ports;
	char **tuples; /* distinct 5-tuples seen */
	size_t n_tuples;
};

struct map {
	char **nodes;
	size_t n_nodes;
	struct edge *edges;
	size_t n_edges;
};

static int strv_add_unique(char ***v, size_t *n, const char *s)
{
	char **nv;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 1;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void map_free(struct map *m)
{
	strv_free(m->nodes, m->n_nodes);
	for (size_t i = 0; i < m->n_edges; i++) {
		free(m->edges[i].src);
		free(m->edges[i].dst);
		strv_free(m->edges[i].ports, m->edges[i].n_ports);
		strv_free(m->edges[i].tuples, m->edges[i].n_tuples);
	}
	free(m->edges);
}

/* "prod/web" for app=web in prod (or the endpoint's name), "world" outside the cluster. */
char *mseg_map_service(const json_t *end)
{
	const char *ns = json_string_value(json_object_get(end, "namespace"));
	const char *name = json_string_value(json_object_get(end, "name"));
	const char *app = json_string_value(json_object_get(json_object_get(end, "labels"), "app"));
	char *s = NULL;

	if (ns && name)
		return asprintf(&s, "%s/%s", ns, app ? app : name) < 0 ? NULL : s;
	if (json_is_true(json_object_get(end, "host")))
		return strdup("host");
	return strdup("world");
}

static struct edge *edge_get(struct map *m, const char *src, const char *dst, int outcome)
{
	struct edge *e;

	for (size_t i = 0; i < m->n_edges; i++)
		if (!strcmp(m->edges[i].src, src) && !strcmp(m->edges[i].dst, dst) &&
		    m->edges[i].outcome == outcome)
			return &m->edges[i];
	e = realloc(m->edges, (m->n_edges + 1) * sizeof(*e));
	if (!e)
		return NULL;
	m->edges = e;
	e = &m->edges[m->n_edges];
	*e = (struct edge){.src = strdup(src), .dst = strdup(dst), .outcome = outcome};
	if (!e->src || !e->dst)
		return NULL;
	m->n_edges++;
	return e;
}

static int map_add(struct map *m, const json_t *rec, const json_t *dropped)
{
	const json_t *s = json_object_get(rec, "source"), *d = json_object_get(rec, "destination");
	const char *verdict = json_string_value(json_object_get(rec, "verdict"));
	const char *proto = json_string_value(json_object_get(rec, "protocol"));
	_cleanup_free_ char *src = mseg_map_service(s), *dst = mseg_map_service(d);
	_cleanup_free_ char *pstr = NULL, *tuple = NULL;
	json_t *dport = json_object_get(d, "port"), *icmp = json_object_get(rec, "icmp");
	int outcome = !verdict			      ? 2
		      : !strcmp(verdict, "forwarded") ? 0
		      : !strcmp(verdict, "audit")     ? 1
						      : 2;
	_cleanup_free_ char *key = mseg_observe_tuple(rec);
	struct edge *e;

	/* a flow one side let out and the other side dropped is blocked, not allowed */
	if (outcome < 2 && key && json_object_get(dropped, key))
		return 0;

	if (!src || !dst || !proto)
		return src && dst ? 0 : -ENOMEM; /* not IPv4: nothing to draw */
	if (json_is_integer(dport))
		(void)!asprintf(&pstr, "%lld/%s", (long long)json_integer_value(dport), proto);
	else if (icmp)
		(void)!asprintf(&pstr, "icmp %lld",
				(long long)json_integer_value(json_object_get(icmp, "type")));
	else
		pstr = strdup(proto);
	(void)!asprintf(&tuple, "%s:%lld>%s:%lld/%s",
			json_string_value(json_object_get(s, "ip")) ?: "",
			(long long)json_integer_value(json_object_get(s, "port")),
			json_string_value(json_object_get(d, "ip")) ?: "",
			(long long)json_integer_value(dport), proto);
	if (!pstr || !tuple)
		return -ENOMEM;
	if (strv_add_unique(&m->nodes, &m->n_nodes, src) < 0 ||
	    strv_add_unique(&m->nodes, &m->n_nodes, dst) < 0)
		return -ENOMEM;
	e = edge_get(m, src, dst, outcome);
	if (!e || strv_add_unique(&e->ports, &e->n_ports, pstr) < 0 ||
	    strv_add_unique(&e->tuples, &e->n_tuples, tuple) < 0)
		return -ENOMEM;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The dot source: one cluster per namespace, nodes named by service. */
static char *map_dot(struct map *m)
{
	static const char *const colors[3] = {"forestgreen", "darkorange", "red3"};
	static const char *const words[3] = {"allowed", "audit", "blocked"};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	qsort(m->nodes, m->n_nodes, sizeof(*m->nodes), cmp_str);
	fputs("digraph mseg {\n"
	      "  rankdir=LR;\n"
	      "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f6f8\", "
	      "fontname=\"Helvetica\"];\n"
	      "  edge [fontname=\"Helvetica\", fontsize=10];\n",
	      f);
	for (size_t i = 0; i < m->n_nodes;) {
		const char *slash = strchr(m->nodes[i], '/');
		size_t nslen = slash ? (size_t)(slash - m->nodes[i]) : 0;
		size_t j = i;

		if (slash)
			fprintf(f, "  subgraph \"cluster_%.*s\" {\n    label=\"%.*s\";\n",
				(int)nslen, m->nodes[i], (int)nslen, m->nodes[i]);
		while (j < m->n_nodes &&
		       (slash ? !strncmp(m->nodes[j], m->nodes[i], nslen + 1) : j == i)) {
			const char *sl = strchr(m->nodes[j], '/');

			fprintf(f, "%s  \"%s\" [label=\"%s\"%s];\n", slash ? "  " : "", m->nodes[j],
				sl ? sl + 1 : m->nodes[j],
				sl ? "" : ", shape=ellipse, fillcolor=\"#fff4e0\"");
			j++;
		}
		if (slash)
			fputs("  }\n", f);
		i = j;
	}
	for (size_t i = 0; i < m->n_edges; i++) {
		struct edge *e = &m->edges[i];

		qsort(e->ports, e->n_ports, sizeof(*e->ports), cmp_str);
		fprintf(f, "  \"%s\" -> \"%s\" [color=%s, fontcolor=%s%s, label=\"", e->src, e->dst,
			colors[e->outcome], colors[e->outcome],
			e->outcome == 1	  ? ", style=dashed"
			: e->outcome == 2 ? ", penwidth=2"
					  : "");
		for (size_t k = 0; k < e->n_ports; k++)
			fprintf(f, "%s%s", k ? ", " : "", e->ports[k]);
		fprintf(f, "\\n%s x%zu\"];\n", words[e->outcome], e->n_tuples);
	}
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int dot_to_svg(const char *dot, char **svg, unsigned *len)
{
	GVC_t *gvc;
	Agraph_t *g;
	int r = mseg_optional_graphviz_load();

	if (r < 0)
		return r;
	gvc = sym_gvContext();
	if (!gvc)
		return -ENOMEM;
	g = sym_agmemread(dot);
	if (!g) {
		sym_gvFreeContext(gvc);
		return -EINVAL;
	}
	if (sym_gvLayout(gvc, g, "dot") != 0 || sym_gvRenderData(gvc, g, "svg", svg, len) != 0)
		r = -EIO;
	sym_gvFreeLayout(gvc, g);
	sym_agclose(g);
	sym_gvFreeContext(gvc);
	return r;
}

static void html_escape(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		default:
			fputc(*s, f);
		}
}

static void write_html(FILE *out, const struct map *m, const char *svg)
{
	static const char *const words[3] = {"allowed", "audit", "blocked"};
	const char *start = strstr(svg, "<svg");

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<title>mseg service map</title>\n<style>body{font-family:Helvetica,Arial,"
	      "sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
	      "padding:4px 8px;text-align:left}.allowed{color:#228b22}.audit{color:#d2691e}"
	      ".blocked{color:#cd2626}</style></head>\n<body>\n<h1>mseg service map</h1>\n",
	      out);
	fputs(start ? start : svg, out); /* the SVG element itself, inline: no external file */
	fputs("\n<h2>Flows</h2>\n<table><tr><th>from</th><th>to</th><th>ports</th><th>outcome"
	      "</th><th>flows</th></tr>\n",
	      out);
	for (size_t i = 0; i < m->n_edges; i++) {
		const struct edge *e = &m->edges[i];

		fputs("<tr><td>", out);
		html_escape(out, e->src);
		fputs("</td><td>", out);
		html_escape(out, e->dst);
		fputs("</td><td>", out);
		for (size_t k = 0; k < e->n_ports; k++) {
			if (k)
				fputs(", ", out);
			html_escape(out, e->ports[k]);
		}
		fprintf(out, "</td><td class=\"%s\">%s</td><td>%zu</td></tr>\n", words[e->outcome],
			words[e->outcome], e->n_tuples);
	}
	fputs("</table>\n</body></html>\n", out);
}

int mseg_cmd_map(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *fmt = "dot";
	json_t *args = json_object(), *events = NULL, *rec, *dropped;
	struct map m = {0};
	_cleanup_free_ char *dot = NULL;
	double since;
	size_t i;
	int c, r = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (mseg_observe_duration_parse(optarg, &since) < 0) {
				fprintf(stderr,
					"mseg: invalid --since '%s': e.g. 30s, 5m, 2h, 1d\n",
					optarg);
				json_decref(args);
				return 2;
			}
			json_object_set_new(args, "since", json_real(since));
			break;
		case 'o':
			if (strcmp(optarg, "dot") && strcmp(optarg, "svg") &&
			    strcmp(optarg, "html")) {
				fprintf(stderr, "mseg: invalid output '%s': dot, svg or html\n",
					optarg);
				json_decref(args);
				return 2;
			}
			fmt = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf(
			    "Usage: mseg map [--since DURATION] [-o dot|svg|html] [--socket PATH]\n"
			    "The service map of the flows msegd observed, on stdout: services\n"
			    "(namespace and app label, else name) as nodes, flows as edges with\n"
			    "ports and counts; allowed green, audit orange, blocked red. Allowed\n"
			    "flows appear when msegd runs with --flows new.\n");
			json_decref(args);
			return 0;
		default:
			json_decref(args);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mseg: map takes no arguments ('%s')\n", argv[optind]);
		json_decref(args);
		return 2;
	}
	if (mseg_observe_fetch(sock, args, &events, NULL) < 0)
		return 1;
	dropped = mseg_observe_dropped_tuples(events);
	json_array_foreach(events, i, rec)
	{
		r = dropped ? map_add(&m, rec, dropped) : -ENOMEM;
		if (r < 0)
			break;
	}
	json_decref(dropped);
	json_decref(events);
	if (r == 0) {
		dot = map_dot(&m);
		if (!dot)
			r = -ENOMEM;
	}
	if (r == 0 && !strcmp(fmt, "dot")) {
		fputs(dot, stdout);
	} else if (r == 0) {
		char *svg = NULL;
		unsigned len = 0;

		r = dot_to_svg(dot, &svg, &len);
		if (r == -ENOENT || r == -ENOSYS)
			; /* the loader said which library or symbol is missing */
		else if (r < 0)
			fprintf(stderr, "mseg: graphviz could not lay out the map: %s\n",
				strerror(-r));
		else if (!strcmp(fmt, "svg"))
			fwrite(svg, 1, len, stdout);
		else
			write_html(stdout, &m, svg);
		if (svg)
			sym_gvFreeRenderData(svg);
	}
	map_free(&m);
	if (r == -ENOMEM)
		fprintf(stderr, "mseg: out of memory\n");
	return r < 0 ? 1 : 0;
}
