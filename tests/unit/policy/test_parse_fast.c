// SPDX-License-Identifier: Apache-2.0
/*
 * The fast YAML reader (policy/parse_fast.c) against libyaml: for every policy, endpoints and
 * example document in the repository, and for variants of each (every prefix cut at a line
 * end, every line indented by one more space, every line dropped, a character deleted or
 * duplicated at many places), the fast reader either declines or builds exactly libyaml's tree
 * (types, lines, columns, values, scalar kinds); and wherever libyaml finds an error, it
 * declines (so the error, reported by libyaml, is the same). MSEG_TEST_TOP names the
 * repository (default: the current directory).
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

#include "policy/parse_tree.h"

static unsigned long n_inputs, n_fast, n_declined, n_libyaml_errors;

static bool same_tree(const struct mseg_ynode *a, const struct mseg_ynode *b)
{
	if (a->type != b->type || a->line != b->line || a->col != b->col || a->n != b->n)
		return false;
	if (a->type == MSEG_YNODE_SCALAR)
		return a->len == b->len && a->kind == b->kind && !memcmp(a->value, b->value, a->len);
	for (size_t i = 0; i < a->n; i++)
		if ((a->type == MSEG_YNODE_MAP && !same_tree(a->keys[i], b->keys[i])) ||
		    !same_tree(a->values[i], b->values[i]))
			return false;
	return true;
}

static void check_text(const char *what, const char *buf, size_t len)
{
	struct mseg_ydocs fast = {0}, slow = {0};
	struct mseg_diag diag = {0};
	int rf, rs;

	n_inputs++;
	rf = mseg_ydocs_read_fast(buf, len, &fast);
	rs = mseg_ydocs_read_libyaml("t", buf, len, &slow, &diag);
	if (rs < 0)
		n_libyaml_errors++;
	if (rf == -EOPNOTSUPP) {
		n_declined++;
	} else {
		bool ok = rf == 0 && rs == 0 && fast.n == slow.n;

		for (size_t i = 0; ok && i < fast.n; i++)
			ok = same_tree(fast.docs[i], slow.docs[i]);
		if (!ok)
			print_error("fast reader differs from libyaml (fast %d, libyaml %d, %zu vs %zu "
				    "documents) on %s:\n%.*s\n",
				    rf, rs, fast.n, slow.n, what, (int)len, buf);
		assert_true(ok);
		n_fast++;
	}
	mseg_ydocs_free(&fast);
	mseg_ydocs_free(&slow);
	mseg_diag_free(&diag);
}

/* Variants that keep most of the text valid, or break it in the ways people do. */
static void check_variants(const char *what, const char *buf, size_t len)
{
	char *t = malloc(len + 2);
	size_t step = len / 97 + 1;

	assert_non_null(t);
	check_text(what, buf, len);
	for (size_t i = 0; i < len; i++) {
		size_t next;

		if (buf[i] != '\n')
			continue;
		/* the prefix up to this line */
		check_text(what, buf, i + 1);
		/* the next line indented by one more space */
		memcpy(t, buf, i + 1);
		t[i + 1] = ' ';
		memcpy(t + i + 2, buf + i + 1, len - i - 1);
		check_text(what, t, len + 1);
		/* the next line dropped */
		next = i + 1;
		while (next < len && buf[next] != '\n')
			next++;
		if (next < len) {
			memcpy(t, buf, i + 1);
			memcpy(t + i + 1, buf + next + 1, len - next - 1);
			check_text(what, t, len - (next - i));
		}
	}
	for (size_t i = 0; i < len; i += step) {
		/* one byte deleted; one byte doubled */
		memcpy(t, buf, i);
		memcpy(t + i, buf + i + 1, len - i - 1);
		check_text(what, t, len - 1);
		memcpy(t, buf, i + 1);
		memcpy(t + i + 1, buf + i, len - i);
		check_text(what, t, len + 1);
	}
	free(t);
}

static bool corpus_name(const char *n)
{
	size_t l = strlen(n);

	return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml")) ||
	       (l > 5 && !strcmp(n + l - 5, ".json"));
}

static void walk(const char *dir, unsigned *files)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path, files);
		} else if (corpus_name(e->d_name) && st.st_size < (1 << 16)) {
			FILE *f = fopen(path, "re");
			char *buf = malloc((size_t)st.st_size + 1);
			size_t n;

			assert_non_null(f);
			assert_non_null(buf);
			n = fread(buf, 1, (size_t)st.st_size, f);
			fclose(f);
			check_variants(path, buf, n);
			free(buf);
			(*files)++;
		}
	}
	closedir(d);
}

static void test_corpus_same_as_libyaml(void **state)
{
	const char *top = getenv("MSEG_TEST_TOP");
	static const char *const dirs[] = {"tests", "examples", "docs"};
	unsigned files = 0;
	char path[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", top && *top ? top : ".", dirs[i]);
		walk(path, &files);
	}
	print_message("%u files, %lu inputs: %lu read fast, %lu declined, %lu libyaml errors\n",
		      files, n_inputs, n_fast, n_declined, n_libyaml_errors);
	/* the corpus is there, and the fast reader is not declining everything */
	assert_true(files >= 20);
	assert_true(n_fast * 10 >= n_inputs);
}

/* The shapes policies are written in, including the 10,000-rule benchmark's. */
static void test_policy_shapes(void **state)
{
	static const char *const docs[] = {
	    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	    "metadata: {name: bench-3, namespace: bench}\nspec:\n"
	    "  podSelector: {matchLabels: {app: dst}}\n  policyTypes: [Ingress]\n  ingress:\n"
	    "    - from: [{ipBlock: {cidr: 10.64.0.0/32}}]\n"
	    "      ports: [{protocol: UDP, port: 5001}]\n"
	    "    - from: [{podSelector: {matchLabels: {app: src}}}]\n      ports:\n"
	    "        - {protocol: UDP, port: 5001, endPort: 5003}\n"
	    "        - {protocol: TCP, port: 5002}\n",
	    "# a comment\n---\napiVersion: mseg.io/v1   # trailing\nkind: Policy\nmetadata:\n"
	    "  name: \"web\"\n  namespace: 'prod'\nspec:\n  endpointSelector:\n"
	    "    matchExpressions:\n    - key: app\n      operator: In\n      values: [a, b]\n"
	    "  ingress:\n  - action: deny\n    from:\n    - namespaceSelector: {}\n"
	    "---\n---\nkind: x\n",
	    "a: [ 1 , 2 ]\nb: { c: d , e: [] }\nc: true\nd: ~\ne: 0x1F\nf: 1.5e3\ng: yes\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct mseg_ydocs fast = {0};

		n_fast = 0;
		check_variants("shape", docs[i], strlen(docs[i]));
		assert_int_equal(mseg_ydocs_read_fast(docs[i], strlen(docs[i]), &fast), 0);
		mseg_ydocs_free(&fast);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_shapes),
	    cmocka_unit_test(test_corpus_same_as_libyaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
