// SPDX-License-Identifier: Apache-2.0
/* `mseg status`: this node's health (store connection, datapath, endpoints, last reconcile). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/client.h"

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : "-";
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_status(const json_t *st)
{
	const json_t *store = json_object_get(st, "store"), *dp = json_object_get(st, "datapath");
	const json_t *eps = json_object_get(st, "endpoints"), *cl = json_object_get(st, "cluster");
	const json_t *rec = json_object_get(st, "last_reconcile");

	printf("Node:        %s (pod CIDR %s)\n", str(st, "node"), str(st, "pod_cidr"));
	if (!strcmp(str(store, "type"), "etcd")) {
		printf("Store:       etcd %s%s, prefix %s: %s\n", str(store, "endpoint"),
		       json_is_true(json_object_get(store, "watch")) ? " (watching)" : "",
		       str(store, "prefix"),
		       json_is_true(json_object_get(store, "connected")) ? "connected"
									 : "DISCONNECTED");
		if (strcmp(str(store, "last_error"), "-"))
			printf("             last error: %s\n", str(store, "last_error"));
		printf("             lease %llx, %lld resync(s), %lld event(s), last sync %s, "
		       "%lld call(s) pending\n",
		       num(store, "lease"), num(store, "resyncs"), num(store, "events"),
		       str(store, "last_sync"), num(store, "pending"));
	} else {
		printf("Store:       local (%s)\n", str(store, "dir"));
	}
	printf("Datapath:    %s, %s by default\n", str(dp, "backend"),
	       json_is_true(json_object_get(dp, "default_deny")) ? "deny" : "allow");
	printf("Endpoints:   %lld local (%lld ready), %lld remote\n", num(eps, "local"),
	       num(eps, "ready"), num(eps, "remote"));
	printf("Policies:    %lld\n", num(st, "policies"));
	if (cl)
		printf("Cluster:     %lld node(s) alive, %lld overlay peer(s), underlay %s, "
		       "VXLAN port %lld VNI %lld, container MTU %lld\n",
		       num(cl, "nodes"), num(cl, "peers"), str(cl, "node_ip"),
		       num(cl, "vxlan_port"), num(cl, "vni"), num(cl, "mtu"));
	if (rec)
		printf("Reconciled:  %s\n", str(rec, "time"));
}

int mseg_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	json_t *result = NULL;
	bool json = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (mseg_client_output_format(optarg, &json) < 0)
				return 2;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: mseg status [-o json|table] [--socket PATH]\n"
			       "This node's health: store connection, datapath, endpoints, last "
			       "reconcile.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mseg: status takes no arguments\n");
		return 2;
	}
	if (mseg_client_call(mseg_client_socket(sock), "agent.status", NULL, &result) < 0)
		return 1;
	if (json)
		mseg_client_print_json(result);
	else
		print_status(result);
	json_decref(result);
	return 0;
}
