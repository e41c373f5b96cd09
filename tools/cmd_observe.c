// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg observe`: the agent's flow events (agent/events.h), filtered by msegd, printed as a
 * table or JSON lines, optionally followed live (-f) and written as pcap (--pcap FILE: the
 * captured packet bytes, Ethernet framing; the nft backend's IPv4 captures get a synthetic
 * Ethernet header). Also the helpers `mseg map` and `mseg policy suggest` share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"
#include "tools/optional_pcap.h"

int mseg_observe_duration_parse(const char *s, double *seconds)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		*seconds = v;
	else if (!strcmp(end, "ms"))
		*seconds = v / 1000;
	else if (!strcmp(end, "m"))
		*seconds = v * 60;
	else if (!strcmp(end, "h"))
		*seconds = v * 3600;
	else if (!strcmp(end, "d"))
		*seconds = v * 86400;
	else
		return -EINVAL;
	return 0;
}

int mseg_observe_fetch(const char *sock, json_t *args, json_t **events, json_t **stats)
{
	json_t *result = NULL;
	int r = mseg_client_call(mseg_client_socket(sock), "events.list", args, &result);

	if (r < 0)
		return r;
	*events = json_incref(json_object_get(result, "events"));
	if (stats)
		*stats = json_incref(json_object_get(result, "stats"));
	json_decref(result);
	if (!json_is_array(*events)) {
		fprintf(stderr, "mseg: msegd sent no event list\n");
		json_decref(*events);
		if (stats)
			json_decref(*stats);
		return -EBADMSG;
	}
	return 0;
}

char *mseg_observe_tuple(const json_t *rec)
{
	const json_t *s = json_object_get(rec, "source"), *d = json_object_get(rec, "destination");
	const json_t *icmp = json_object_get(rec, "icmp");
	char *k = NULL;

	if (asprintf(&k, "%s:%lld>%s:%lld/%s:%lld",
		     json_string_value(json_object_get(s, "ip")) ?: "",
		     (long long)json_integer_value(json_object_get(s, "port")),
		     json_string_value(json_object_get(d, "ip")) ?: "",
		     (long long)json_integer_value(json_object_get(d, "port")),
		     json_string_value(json_object_get(rec, "protocol")) ?: "",
		     (long long)json_integer_value(json_object_get(icmp, "type"))) < 0)
		return NULL;
	return k;
}

json_t *mseg_observe_dropped_tuples(const json_t *events)
{
	json_t *set = json_object(), *rec;
	size_t i;

	if (!set)
		return NULL;
	json_array_foreach(events, i, rec)
	{
		const char *v = json_string_value(json_object_get(rec, "verdict"));
		char *k;

		if (!v || strcmp(v, "dropped"))
			continue;
		k = mseg_observe_tuple(rec);
		if (k)
			json_object_set_new(set, k, json_true());
		free(k);
	}
	return set;
}

/* "prod/web", "world 192.0.2.7", or the address. */
char *mseg_observe_end_string(const json_t *end)
{
	const char *ns = json_string_value(json_object_get(end, "namespace"));
	const char *name = json_string_value(json_object_get(end, "name"));
	const char *ip = json_string_value(json_object_get(end, "ip"));
	char *s = NULL;
	int r;

	if (ns && name)
		r = asprintf(&s, "%s/%s", ns, name);
	else if (json_is_true(json_object_get(end, "world")))
		r = asprintf(&s, "world(%s)", ip ? ip : "?");
	else if (json_is_true(json_object_get(end, "host")))
		r = asprintf(&s, "host(%s)", ip ? ip : "?");
	else
		r = asprintf(&s, "%s", ip ? ip : "-");
	return r < 0 ? NULL : s;
}

static char *port_string(const json_t *rec)
{
	const char *proto = json_string_value(json_object_get(rec, "protocol"));
	json_t *port = json_object_get(json_object_get(rec, "destination"), "port");
	json_t *icmp = json_object_get(rec, "icmp");
	char *s = NULL;
	int r;

	if (json_is_integer(port))
		r = asprintf(&s, "%lld/%s", (long long)json_integer_value(port),
			     proto ? proto : "?");
	else if (icmp)
		r = asprintf(&s, "icmp %lld/%lld",
			     (long long)json_integer_value(json_object_get(icmp, "type")),
			     (long long)json_integer_value(json_object_get(icmp, "code")));
	else
		r = asprintf(&s, "%s", proto ? proto : "-");
	return r < 0 ? NULL : s;
}

static void policy_name(FILE *f, const json_t *p)
{
	const char *kind = json_string_value(json_object_get(p, "policy_kind"));
	const char *ns = json_string_value(json_object_get(p, "namespace"));
	const char *name = json_string_value(json_object_get(p, "name"));

	if (!name) {
		fprintf(f, "policy #%lld",
			(long long)json_integer_value(json_object_get(p, "policy_id")));
		return;
	}
	fprintf(f, "%s %s%s%s", kind ? kind : "policy", ns ? ns : "", ns ? "/" : "", name);
}

char *mseg_observe_decider_string(const json_t *rec)
{
	const json_t *d = json_object_get(rec, "decided_by");
	const char *kind = json_string_value(json_object_get(d, "kind"));
	const char *verdict = json_string_value(json_object_get(rec, "verdict"));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (verdict && !strcmp(verdict, "audit"))
		fputs("would drop: ", f);
	if (kind && !strcmp(kind, "policy")) {
		policy_name(f, d);
		fprintf(f, " %s rule %lld",
			json_string_value(json_object_get(d, "rule_direction")) ?: "?",
			(long long)json_integer_value(json_object_get(d, "rule")));
	} else if (kind && !strcmp(kind, "isolation")) {
		size_t i;
		json_t *p;

		fputs("isolated by ", f);
		json_array_foreach(json_object_get(d, "isolated_by"), i, p)
		{
			if (i)
				fputs(", ", f);
			policy_name(f, p);
		}
		if (!json_array_size(json_object_get(d, "isolated_by")))
			fputs("policy", f);
	} else if (kind && !strcmp(kind, "default")) {
		fprintf(f, "node default (%s)",
			json_string_value(json_object_get(d, "default")) ?: "?");
	} else {
		fprintf(f, "%s", json_string_value(json_object_get(rec, "reason")) ?: "-");
	}
	fclose(f);
	return buf;
}

/* "09:41:02.123" of an RFC 3339 time, for the table. */
static const char *short_time(const char *t, char buf[16])
{
	const char *tpos = t ? strchr(t, 'T') : NULL;

	if (!tpos || strlen(tpos) < 13)
		return t ? t : "-";
	memcpy(buf, tpos + 1, 12);
	buf[12] = '\0';
	return buf;
}

static void row_strings(const json_t *rec, char **from, char **to, char **port, char **dec)
{
	*from = mseg_observe_end_string(json_object_get(rec, "source"));
	*to = mseg_observe_end_string(json_object_get(rec, "destination"));
	*port = port_string(rec);
	*dec = mseg_observe_decider_string(rec);
}

/* ---- pcap ------------------------------------------------------------------------------ */

static int hex_decode(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2;

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return (int)n;
}

static int pcap_write_event(pcap_dumper_t *d, const json_t *rec)
{
	const char *hex = json_string_value(json_object_get(rec, "packet"));
	const char *link = json_string_value(json_object_get(rec, "packet_link"));
	json_t *tns = json_object_get(rec, "time_ns");
	uint8_t frame[14 + 256] = {0};
	struct pcap_pkthdr h = {0};
	size_t off = 0;
	int n;

	if (!hex)
		return 0;
	if (link && !strcmp(link, "ipv4")) {
		/* an IPv4 capture: frame it so one Ethernet pcap holds both backends' packets */
		frame[12] = 0x08;
		off = 14;
	}
	n = hex_decode(hex, frame + off, sizeof(frame) - off);
	if (n <= 0)
		return n;
	h.caplen = (bpf_u_int32)(off + (size_t)n);
	h.len = h.caplen;
	/* the wire length from the IPv4 header, when it is in the capture */
	if (h.caplen >= 14 + 4 && frame[12] == 0x08 && frame[13] == 0x00) {
		unsigned tot = (unsigned)frame[16] << 8 | frame[17];

		if (14 + tot > h.caplen)
			h.len = 14 + tot;
	}
	if (json_is_integer(tns)) {
		uint64_t t = (uint64_t)json_integer_value(tns);

		h.ts.tv_sec = (time_t)(t / 1000000000ull);
		h.ts.tv_usec = (suseconds_t)(t % 1000000000ull / 1000);
	}
	sym_pcap_dump((u_char *)d, &h, frame);
	return 1;
}

struct output {
	bool json;
	bool follow;
	pcap_t *pcap;
	pcap_dumper_t *dumper;
	size_t n_packets;
};

static void print_stream_row(const json_t *rec)
{
	char *from, *to, *port, *dec, tb[16];

	row_strings(rec, &from, &to, &port, &dec);
	printf("%-12s  %-22s  %-22s  %-10s  %-9s  %s\n",
	       short_time(json_string_value(json_object_get(rec, "time")), tb), from ?: "-",
	       to ?: "-", port ?: "-", json_string_value(json_object_get(rec, "verdict")) ?: "-",
	       dec ?: "-");
	free(from);
	free(to);
	free(port);
	free(dec);
}

static void output_one(struct output *o, const json_t *rec)
{
	if (o->dumper && pcap_write_event(o->dumper, rec) > 0)
		o->n_packets++;
	if (o->json) {
		json_t *copy = json_deep_copy(rec);

		/* the bytes went to the pcap; JSON lines stay as the agent logs them */
		json_object_del(copy, "packet");
		json_object_del(copy, "packet_link");
		char *s = json_dumps(copy, JSON_COMPACT);
		json_decref(copy);
		if (s)
			puts(s);
		free(s);
	} else if (o->follow) {
		print_stream_row(rec);
	}
}

static void output_table(const json_t *events)
{
	struct mseg_table t;
	size_t i;
	json_t *rec;

	mseg_table_init(&t, 6, "TIME", "FROM", "TO", "PORT", "VERDICT", "DECIDED BY");
	json_array_foreach(events, i, rec)
	{
		char *from, *to, *port, *dec, tb[16];

		row_strings(rec, &from, &to, &port, &dec);
		mseg_table_add(&t, short_time(json_string_value(json_object_get(rec, "time")), tb),
			       from, to, port, json_string_value(json_object_get(rec, "verdict")),
			       dec);
		free(from);
		free(to);
		free(port);
		free(dec);
	}
	mseg_table_print(&t, stdout);
}

static void print_lost(const json_t *stats)
{
	json_t *lost = json_object_get(stats, "lost");
	json_int_t total = json_integer_value(json_object_get(lost, "total"));

	if (total > 0)
		fprintf(stderr,
			"mseg: %lld event(s) lost so far (datapath %lld, rate limit %lld, "
			"followers %lld)\n",
			(long long)total,
			(long long)json_integer_value(json_object_get(lost, "datapath")),
			(long long)json_integer_value(json_object_get(lost, "rate_limit")),
			(long long)json_integer_value(json_object_get(lost, "followers")));
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* events.follow: the backlog in the reply, then one record per line until interrupted. */
static int follow(const char *sock, json_t *args, struct output *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = mseg_client_socket(sock);
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *req = NULL, *buf = NULL;
	size_t len = 0, cap = 1 << 16;
	bool first = true;
	json_t *msg;

	msg = json_pack("{s:s,s:o}", "op", "events.follow", "args", args);
	req = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	buf = malloc(cap);
	if (!req || !buf)
		return -ENOMEM;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		fprintf(stderr, "mseg: cannot reach msegd at %s: %s (is msegd running?)\n", path,
			strerror(-r));
		return r;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		return -errno;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!o->json)
		printf("%-12s  %-22s  %-22s  %-10s  %-9s  %s\n", "TIME", "FROM", "TO", "PORT",
		       "VERDICT", "DECIDED BY");
	fflush(stdout);
	while (!stop) {
		ssize_t n;
		char *nl;

		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			json_t *line = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
			size_t used = (size_t)(nl - buf) + 1;

			if (first) {
				json_t *err = json_object_get(line, "error");
				size_t i;
				json_t *rec;

				first = false;
				if (err) {
					fprintf(stderr, "mseg: %s\n",
						json_string_value(json_object_get(err, "message")));
					json_decref(line);
					return -EINVAL;
				}
				json_array_foreach(
				    json_object_get(json_object_get(line, "result"), "events"), i,
				    rec) output_one(o, rec);
			} else if (line) {
				output_one(o, line);
			}
			json_decref(line);
			memmove(buf, buf + used, len - used);
			len -= used;
			fflush(stdout);
			if (o->dumper)
				sym_pcap_dump_flush(o->dumper);
		}
	}
	return 0;
}

static void observe_usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: mseg observe [-f] [--verdict dropped|forwarded|audit] [--from SEL|NS/NAME]\n"
	    "                    [--to SEL|NS/NAME] [--port PORT[/PROTO]] [--since DURATION]\n"
	    "                    [--last N] [-o table|json] [--pcap FILE] [--socket PATH]\n"
	    "Shows the flow events of the node: drops, audit verdicts and (msegd --flows new)\n"
	    "allowed new connections, each with the policy and rule that decided it.\n\n"
	    "  -f, --follow       keep printing new events until interrupted\n"
	    "  --from, --to       NS/NAME, 'world', or a label selector (app=web,tier!=db)\n"
	    "  --since DURATION   only events of the last 30s, 5m, 2h, 1d\n"
	    "  --last N           only the newest N matching events\n"
	    "  --pcap FILE        write the packets to FILE (pcap; default --verdict dropped)\n");
}

int mseg_cmd_observe(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'f'},	    {"verdict", required_argument, NULL, 'V'},
	    {"from", required_argument, NULL, 'F'}, {"to", required_argument, NULL, 'T'},
	    {"port", required_argument, NULL, 'P'}, {"since", required_argument, NULL, 's'},
	    {"last", required_argument, NULL, 'n'}, {"output", required_argument, NULL, 'o'},
	    {"pcap", required_argument, NULL, 'w'}, {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	struct output o = {0};
	const char *sock = NULL, *pcap_path = NULL;
	json_t *args = json_object(), *events = NULL, *stats = NULL;
	double since;
	int c, r = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.follow = true;
			break;
		case 'V':
			if (strcmp(optarg, "dropped") && strcmp(optarg, "forwarded") &&
			    strcmp(optarg, "audit")) {
				fprintf(stderr,
					"mseg: invalid --verdict '%s': dropped, forwarded "
					"or audit\n",
					optarg);
				goto usage;
			}
			json_object_set_new(args, "verdict", json_string(optarg));
			break;
		case 'F':
			json_object_set_new(args, "from", json_string(optarg));
			break;
		case 'T':
			json_object_set_new(args, "to", json_string(optarg));
			break;
		case 'P':
			json_object_set_new(args, "port", json_string(optarg));
			break;
		case 's':
			if (mseg_observe_duration_parse(optarg, &since) < 0) {
				fprintf(stderr,
					"mseg: invalid --since '%s': e.g. 30s, 5m, 2h, 1d\n",
					optarg);
				goto usage;
			}
			json_object_set_new(args, "since", json_real(since));
			break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || end == optarg || n < 1) {
				fprintf(stderr, "mseg: invalid --last '%s': a positive number\n",
					optarg);
				goto usage;
			}
			json_object_set_new(args, "last", json_integer(n));
			break;
		}
		case 'o':
			if (mseg_client_output_format(optarg, &o.json) < 0)
				goto usage;
			break;
		case 'w':
			pcap_path = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			observe_usage(stdout);
			json_decref(args);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mseg: observe takes no arguments ('%s')\n", argv[optind]);
		goto usage;
	}
	if (pcap_path) {
		if (mseg_optional_pcap_load() < 0) {
			json_decref(args);
			return 1;
		}
		if (!json_object_get(args, "verdict"))
			json_object_set_new(args, "verdict", json_string("dropped"));
		json_object_set_new(args, "packets", json_true());
		o.pcap = sym_pcap_open_dead(DLT_EN10MB, 65535);
		o.dumper = o.pcap ? sym_pcap_dump_open(o.pcap, pcap_path) : NULL;
		if (!o.dumper) {
			fprintf(stderr, "mseg: cannot write pcap file '%s': %s\n", pcap_path,
				o.pcap ? sym_pcap_geterr(o.pcap) : "out of memory");
			if (o.pcap)
				sym_pcap_close(o.pcap);
			json_decref(args);
			return 1;
		}
	}
	if (o.follow) {
		r = follow(sock, args, &o);
	} else {
		r = mseg_observe_fetch(sock, args, &events, &stats);
		if (r == 0) {
			if (o.json || o.dumper) {
				size_t i;
				json_t *rec;

				json_array_foreach(events, i, rec) output_one(&o, rec);
			}
			if (!o.json)
				output_table(events);
			print_lost(stats);
		}
		json_decref(events);
		json_decref(stats);
	}
	if (o.dumper) {
		sym_pcap_dump_close(o.dumper);
		sym_pcap_close(o.pcap);
		if (r == 0)
			fprintf(stderr, "mseg: wrote %zu packet(s) to %s\n", o.n_packets,
				pcap_path);
	}
	return r < 0 ? 1 : 0;
usage:
	json_decref(args);
	return 2;
}
