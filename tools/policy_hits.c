// SPDX-License-Identifier: Apache-2.0
/* `mseg get policies -o wide`: every policy with the packets each of its rules decided. */
#include <stdio.h>
#include <stdlib.h>

#include "tools/cli.h"
#include "tools/client.h"

int mseg_get_policies_wide(const char *sock)
{
	struct mseg_table t;
	json_t *result = NULL, *p, *rule;
	size_t i, k;

	if (mseg_client_call(mseg_client_socket(sock), "policy.hits", NULL, &result) < 0)
		return 1;
	mseg_table_init(&t, 6, "ID", "KIND", "NAMESPACE", "NAME", "HITS", "RULES");
	json_array_foreach(json_object_get(result, "policies"), i, p)
	{
		char *id = NULL, *hits = NULL, *rules = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&rules, &len);

		json_array_foreach(json_object_get(p, "rules"), k, rule)
		{
			json_t *idx = json_object_get(rule, "rule");

			if (!f)
				break;
			fprintf(f, "%s%s[", k ? " " : "",
				json_string_value(json_object_get(rule, "direction")) ?: "?");
			if (json_is_integer(idx))
				fprintf(f, "%lld", (long long)json_integer_value(idx));
			else
				fputs(json_string_value(idx) ?: "?", f);
			fprintf(f, "]=%lld",
				(long long)json_integer_value(json_object_get(rule, "packets")));
		}
		if (f)
			fclose(f);
		if (asprintf(&id, "%lld", (long long)json_integer_value(json_object_get(p, "id"))) <
		    0)
			id = NULL;
		if (json_is_true(json_object_get(result, "counted"))) {
			if (asprintf(&hits, "%lld",
				     (long long)json_integer_value(json_object_get(p, "packets"))) <
			    0)
				hits = NULL;
		}
		mseg_table_add(&t, id, json_string_value(json_object_get(p, "kind")),
			       json_string_value(json_object_get(p, "namespace")),
			       json_string_value(json_object_get(p, "name")), hits,
			       rules && *rules ? rules : NULL);
		free(id);
		free(hits);
		free(rules);
	}
	mseg_table_print(&t, stdout);
	if (!json_is_true(json_object_get(result, "counted")))
		fprintf(stderr, "mseg: this datapath keeps rule hits in nft counters: "
				"nft list counters table inet mseg\n");
	json_decref(result);
	return 0;
}
