// SPDX-License-Identifier: Apache-2.0
#include "tools/client.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/macro.h"
#include "policy/labels.h"
#include "runtime/netns.h"

const char *mseg_client_socket(const char *opt)
{
	const char *env = getenv("MSEG_SOCKET");

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	return MSEG_CLIENT_DEFAULT_SOCKET;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to the first newline: the protocol answers each request with one line. */
static int recv_line(int fd, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;

		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);

			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		if (memchr(buf + len, '\n', (size_t)n)) {
			len += (size_t)n;
			buf[len] = '\0';
			*ret = TAKE_PTR(buf);
			return 0;
		}
		len += (size_t)n;
	}
}

int mseg_client_call(const char *socket_path, const char *op, json_t *args, json_t **result)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_free_ char *req = NULL, *line = NULL;
	_cleanup_close_ int fd = -1;
	json_t *msg, *reply, *err;
	json_error_t jerr;
	int r;

	msg = json_pack("{s:s,s:o}", "op", op, "args", args ? args : json_object());
	if (!msg)
		return -ENOMEM;
	req = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!req)
		return -ENOMEM;
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "mseg: socket path '%s' is too long\n", socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		fprintf(stderr, "mseg: cannot reach msegd at %s: %s (is msegd running?)\n",
			socket_path, strerror(-r));
		return r;
	}
	r = send_all(fd, req, strlen(req));
	if (r == 0)
		r = send_all(fd, "\n", 1);
	/* Even when sending failed, msegd may have answered first (a refusal) and hung up. */
	if (r == 0 || r == -EPIPE || r == -ECONNRESET) {
		int rr = recv_line(fd, &line);

		r = rr < 0 ? (r < 0 ? r : rr) : 0;
	}
	if (r < 0) {
		fprintf(stderr, "mseg: lost msegd at %s: %s\n", socket_path, strerror(-r));
		return r;
	}
	reply = json_loads(line, 0, &jerr);
	if (!json_is_object(reply)) {
		json_decref(reply);
		fprintf(stderr, "mseg: msegd sent an unreadable reply: %s\n", jerr.text);
		return -EBADMSG;
	}
	err = json_object_get(reply, "error");
	if (err) {
		const char *code = json_string_value(json_object_get(err, "code"));
		const char *m = json_string_value(json_object_get(err, "message"));

		fprintf(stderr, "mseg: %s\n", m ? m : code ? code : "unknown error");
		r = code && !strcmp(code, "not-found") ? -ENOENT : -EIO;
		json_decref(reply);
		return r;
	}
	*result = json_incref(json_object_get(reply, "result"));
	if (!*result)
		*result = json_null();
	json_decref(reply);
	return 0;
}

int mseg_client_parse_ref(const char *arg, char **ns, char **name)
{
	const char *slash = strchr(arg, '/');

	if (slash ? (slash == arg || !slash[1] || strchr(slash + 1, '/')) : !*arg) {
		fprintf(stderr, "mseg: invalid endpoint '%s': expected NAMESPACE/NAME or NAME\n",
			arg);
		return -EINVAL;
	}
	*ns = slash ? strndup(arg, (size_t)(slash - arg)) : strdup("default");
	*name = strdup(slash ? slash + 1 : arg);
	if (!*ns || !*name) {
		free(*ns);
		free(*name);
		return -ENOMEM;
	}
	return 0;
}

int mseg_client_label_set_arg(json_t *obj, const char *arg)
{
	_cleanup_free_ char *key = NULL, *value = NULL;
	const char *eq = strchr(arg, '='), *why = NULL;

	if (!eq) {
		fprintf(stderr, "mseg: invalid label '%s': expected KEY=VALUE\n", arg);
		return -EINVAL;
	}
	if (mseg_labels_parse_arg(arg, &key, &value) < 0) {
		_cleanup_free_ char *k = strndup(arg, (size_t)(eq - arg));

		/* Say which half is wrong, with the rule it breaks. */
		if (k && mseg_label_key_check(k, &why) < 0)
			fprintf(stderr, "mseg: invalid label key '%s' in '%s': %s\n", k, arg, why);
		else if (mseg_label_value_check(eq + 1, &why) < 0)
			fprintf(stderr, "mseg: invalid label value '%s' in '%s': %s\n", eq + 1, arg,
				why);
		else
			fprintf(stderr, "mseg: invalid label '%s'\n", arg);
		return -EINVAL;
	}
	return json_object_set_new(obj, key, json_string(value)) < 0 ? -ENOMEM : 0;
}

int mseg_client_label_edits(json_t *args, int argc, char **argv)
{
	json_t *set = json_object(), *unset = json_array();
	const char *why;
	int r = 0;

	if (argc == 0) {
		fprintf(stderr, "mseg: no label given (KEY=VALUE to set, KEY- to remove)\n");
		r = -EINVAL;
	}
	for (int i = 0; r == 0 && i < argc; i++) {
		size_t len = strlen(argv[i]);

		if (!strchr(argv[i], '=') && len > 1 && argv[i][len - 1] == '-') {
			_cleanup_free_ char *k = strndup(argv[i], len - 1);

			if (!k) {
				r = -ENOMEM;
			} else if (mseg_label_key_check(k, &why) < 0) {
				fprintf(stderr, "mseg: invalid label key '%s': %s\n", k, why);
				r = -EINVAL;
			} else {
				json_array_append_new(unset, json_string(k));
			}
		} else {
			r = mseg_client_label_set_arg(set, argv[i]);
		}
	}
	if (r < 0) {
		json_decref(set);
		json_decref(unset);
		return r;
	}
	json_object_set_new(args, "set", set);
	json_object_set_new(args, "unset", unset);
	return 0;
}

int mseg_client_output_format(const char *arg, bool *json)
{
	if (!strcmp(arg, "json")) {
		*json = true;
		return 0;
	}
	if (!strcmp(arg, "table")) {
		*json = false;
		return 0;
	}
	fprintf(stderr, "mseg: invalid output format '%s': expected json or table\n", arg);
	return -EINVAL;
}

int mseg_client_print_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
		return -EIO;
	fputc('\n', stdout);
	return 0;
}

char *mseg_client_labels_string(const json_t *labels, bool skip_auto)
{
	size_t len = 1, off = 0;
	const char *k;
	json_t *v;
	char *s;

	json_object_foreach((json_t *)labels, k, v) len +=
	    strlen(k) + strlen(json_string_value(v) ?: "") + 2;
	s = malloc(len + 8);
	if (!s)
		return NULL;
	s[0] = '\0';
	json_object_foreach((json_t *)labels, k, v)
	{
		/* The automatic namespace label repeats the name shown beside it. */
		if (skip_auto && !strcmp(k, "kubernetes.io/metadata.name"))
			continue;
		off += (size_t)sprintf(s + off, "%s%s=%s", off ? "," : "", k,
				       json_string_value(v) ?: "");
	}
	if (!off)
		strcpy(s, "<none>");
	return s;
}

int mseg_table_init(struct mseg_table *t, size_t ncols, ...)
{
	va_list ap;
	int r = 0;

	*t = (struct mseg_table){.ncols = ncols};
	t->cells = calloc(ncols, sizeof(char *));
	if (!t->cells)
		return -ENOMEM;
	t->nrows = 1;
	va_start(ap, ncols);
	for (size_t i = 0; i < ncols; i++) {
		t->cells[i] = strdup(va_arg(ap, const char *));
		if (!t->cells[i])
			r = -ENOMEM;
	}
	va_end(ap);
	return r;
}

int mseg_table_add(struct mseg_table *t, ...)
{
	char **cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	va_list ap;
	int r = 0;

	if (!cells)
		return -ENOMEM;
	t->cells = cells;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		cells[t->nrows * t->ncols + i] = strdup(s ? s : "-");
		if (!cells[t->nrows * t->ncols + i])
			r = -ENOMEM;
	}
	va_end(ap);
	t->nrows++;
	return r;
}

void mseg_table_print(struct mseg_table *t, FILE *f)
{
	_cleanup_free_ size_t *w = calloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; w && r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s ? strlen(s) : 0;

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; w && r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c] ?: "";

			if (c + 1 < t->ncols)
				fprintf(f, "%-*s  ", (int)w[c], s);
			else
				fprintf(f, "%s\n", s);
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	*t = (struct mseg_table){0};
}

int mseg_client_enter_netns(const char *netns)
{
	_cleanup_close_ int fd = -1;
	int r;

	r = mseg_netns_open(netns, &fd);
	if (r < 0) {
		fprintf(stderr, "mseg: cannot open network namespace '%s': %s\n", netns,
			strerror(-r));
		return r;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		r = -errno;
		fprintf(stderr, "mseg: cannot enter network namespace '%s': %s\n", netns,
			strerror(-r));
		return r;
	}
	return 0;
}

int mseg_client_exec(const char *netns, char **argv)
{
	if (mseg_client_enter_netns(netns) < 0)
		return 126;
	execvp(argv[0], argv);
	fprintf(stderr, "mseg: cannot run '%s': %s\n", argv[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
