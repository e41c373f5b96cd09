// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg apply -f FILE|DIR|- [-f ...]`: sends the raw policy documents to msegd, which parses
 * them with the same library as `mseg policy check` and applies all or nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include "lib/base64.h"
#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"

static void apply_usage(FILE *f)
{
	fprintf(f,
		"Usage: mseg apply -f FILE|DIR|- [-f ...] [--socket PATH]\n"
		"Applies policy documents (NetworkPolicy, Policy, ClusterPolicy; YAML or JSON)\n"
		"through msegd. Policies are created or replaced by kind, namespace and name.\n"
		"All or nothing: if any file has an error, nothing changes and every error is\n"
		"printed as FILE:LINE:COL: FIELD: MESSAGE.\n\n"
		"  -f, --filename P   file, directory (its *.yaml, *.yml, *.json) or - (stdin);\n"
		"                     repeatable\n"
		"  --socket PATH      msegd's control socket\n"
		"  --timings          also print where msegd's time went, one line:\n"
		"                     parse_ms= save_ms= compile_ms= apply_ms= total_ms=\n"
		"  -h, --help         this help\n\n"
		"Exit status: 0 applied, 1 error (nothing changed), 2 usage error.\n");
}

static char *read_stream(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *nb;
	size_t k;

	if (!buf)
		return NULL;
	while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += k;
		if (cap - n - 1 == 0) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* jansson checks UTF-8 byte by byte (a tenth of the CLI's time on a 10,000-rule file):
 * ASCII, which nearly every policy file is, needs no check. */
static bool ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/*
 * Large files travel deflated and base64-encoded ({"name", "deflate", "len"}): a 10,000-rule
 * policy is 860 KB of YAML, and jansson encodes and decodes JSON strings byte by byte (some 200
 * M instructions on both sides, more than parsing the YAML), while the repetitive text shrinks
 * to a tenth. Small files stay readable text.
 */
#define DEFLATE_FROM (64u << 10)

/* The document as {"name", "deflate", "len"}, or NULL (then it goes as text). */
static json_t *deflated(const char *path, const char *text, size_t len)
{
	uLongf n = compressBound((uLong)len);
	_cleanup_free_ unsigned char *z = malloc(n);
	_cleanup_free_ char *b = NULL;

	if (!z || compress2(z, &n, (const Bytef *)text, (uLong)len, 1) != Z_OK)
		return NULL;
	if (mseg_base64_encode(z, n, &b) < 0)
		return NULL;
	return json_pack("{s:s,s:s,s:I}", "name", path, "deflate", b, "len", (json_int_t)len);
}

static int add_file(json_t *docs, const char *path, FILE *f)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	json_t *t;

	text = read_stream(f, &len);
	if (!text) {
		fprintf(stderr, "mseg: cannot read '%s': %s\n", path, strerror(errno ?: EIO));
		return -EIO;
	}
	if (len >= DEFLATE_FROM && ascii(text, len)) {
		t = deflated(path, text, len);
		if (t)
			return json_array_append_new(docs, t) < 0 ? -ENOMEM : 0;
	}
	t = ascii(text, len) ? json_stringn_nocheck(text, len) : json_stringn(text, len);
	if (!t ||
	    json_array_append_new(docs, json_pack("{s:s,s:o}", "name", path, "text", t)) < 0) {
		fprintf(stderr, "mseg: '%s' is not UTF-8 text\n", path);
		return -EINVAL;
	}
	return 0;
}

static bool policy_file_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && ((l > 5 && !strcasecmp(n + l - 5, ".yaml")) ||
			       (l > 4 && !strcasecmp(n + l - 4, ".yml")) ||
			       (l > 5 && !strcasecmp(n + l - 5, ".json")));
}

static int add_path(json_t *docs, const char *path)
{
	struct dirent **ents = NULL;
	struct stat st;
	FILE *f;
	int n, r = 0;

	if (!strcmp(path, "-"))
		return add_file(docs, "<stdin>", stdin);
	if (stat(path, &st) < 0) {
		fprintf(stderr, "mseg: cannot read '%s': %s\n", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		f = fopen(path, "re");
		if (!f) {
			fprintf(stderr, "mseg: cannot read '%s': %s\n", path, strerror(errno));
			return -errno;
		}
		r = add_file(docs, path, f);
		fclose(f);
		return r;
	}
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "mseg: cannot read directory '%s': %s\n", path, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char *sub = NULL;

		if (r == 0 && policy_file_name(ents[i]->d_name) &&
		    asprintf(&sub, "%s/%s", path, ents[i]->d_name) >= 0) {
			r = add_path(docs, sub);
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

int mseg_cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filename", required_argument, NULL, 'f'},
	    {"socket", required_argument, NULL, 'S'},
	    {"timings", no_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	json_t *docs = json_array(), *result = NULL, *v;
	size_t n_paths = 0, i;
	bool timings = false;
	int c, rc = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (add_path(docs, optarg) < 0)
				rc = 1;
			n_paths++;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'T':
			timings = true;
			break;
		case 'h':
			apply_usage(stdout);
			json_decref(docs);
			return 0;
		default:
			apply_usage(stderr);
			json_decref(docs);
			return 2;
		}
	}
	if (optind < argc || n_paths == 0) {
		fprintf(stderr,
			optind < argc ? "mseg apply: unexpected argument '%s'\n"
				      : "mseg apply: no -f FILE given%s\n",
			optind < argc ? argv[optind] : "");
		json_decref(docs);
		return 2;
	}
	if (rc) {
		json_decref(docs);
		return 1;
	}
	if (json_array_size(docs) == 0) {
		fprintf(stderr, "mseg apply: no policy file (*.yaml, *.yml, *.json) found\n");
		json_decref(docs);
		return 1;
	}
	if (mseg_client_call(mseg_client_socket(sock), "policy.apply",
			     json_pack("{s:o}", "documents", docs), &result) < 0)
		return 1;
	json_array_foreach(json_object_get(result, "errors"), i, v)
	{
		fprintf(stderr, "%s\n", json_string_value(v));
		rc = 1;
	}
	if (rc)
		fprintf(stderr, "mseg apply: nothing applied\n");
	json_array_foreach(json_object_get(result, "results"), i, v)
	{
		const char *ns = json_string_value(json_object_get(v, "namespace"));
		_cleanup_free_ char *kind =
		    strdup(json_string_value(json_object_get(v, "kind")) ?: "policy");

		for (char *p = kind; p && *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		printf("%s %s%s%s %s\n", kind ?: "policy", ns ?: "", ns ? "/" : "",
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "action")));
	}
	if (timings && json_object_get(result, "timing")) {
		json_t *t = json_object_get(result, "timing");
		static const char *const keys[] = {"parse_ms", "save_ms", "compile_ms", "apply_ms",
						   "total_ms"};

		for (i = 0; i < ARRAY_SIZE(keys); i++)
			printf("%s%s=%.3f", i ? " " : "", keys[i],
			       json_real_value(json_object_get(t, keys[i])));
		printf("\n");
	}
	json_decref(result);
	return rc;
}
