// SPDX-License-Identifier: Apache-2.0
#include "agent/ports.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mseg_port_name_check(const char *name, const char **why)
{
	size_t len = name ? strlen(name) : 0;
	bool letter = false;

	if (len == 0 || len > 15) {
		*why = "a port name must be 1 to 15 characters";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (ch >= 'a' && ch <= 'z')
			letter = true;
		else if (!(ch >= '0' && ch <= '9') && ch != '-') {
			*why = "a port name may hold only lowercase letters, digits and '-'";
			return -EINVAL;
		}
	}
	if (name[0] == '-' || name[len - 1] == '-' || strstr(name, "--")) {
		*why = "a port name must not start or end with '-' or contain '--'";
		return -EINVAL;
	}
	if (!letter) {
		*why = "a port name must contain at least one letter";
		return -EINVAL;
	}
	return 0;
}

int mseg_proto_parse(const char *s, uint8_t *ret)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} protos[] = {{"TCP", MSEG_PROTO_TCP}, {"UDP", MSEG_PROTO_UDP}, {"SCTP", MSEG_PROTO_SCTP}};

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(s, protos[i].name)) {
			*ret = protos[i].proto;
			return 0;
		}
	return -EINVAL;
}

int mseg_port_from_json(json_t *o, struct mseg_named_port *ret, char *msg, size_t msglen)
{
	const char *name, *proto, *why;
	json_t *port;
	uint8_t p = MSEG_PROTO_TCP;
	json_int_t n;

	if (!json_is_object(o)) {
		snprintf(msg, msglen, "a port must be an object {name, port, protocol}");
		return -EINVAL;
	}
	name = json_string_value(json_object_get(o, "name"));
	port = json_object_get(o, "port");
	proto = json_string_value(json_object_get(o, "protocol"));
	if (!name) {
		snprintf(msg, msglen, "a port needs a name");
		return -EINVAL;
	}
	if (mseg_port_name_check(name, &why) < 0) {
		snprintf(msg, msglen, "invalid port name '%s': %s", name, why);
		return -EINVAL;
	}
	if (!json_is_integer(port) || (n = json_integer_value(port)) < 1 || n > 65535) {
		char *s = json_dumps(port, JSON_ENCODE_ANY);

		snprintf(msg, msglen, "invalid port number %s of port '%s': must be 1-65535",
			 s ? s : "(none)", name);
		free(s);
		return -EINVAL;
	}
	if (json_object_get(o, "protocol") && (!proto || mseg_proto_parse(proto, &p) < 0)) {
		snprintf(msg, msglen,
			 "invalid protocol '%s' of port '%s': must be TCP, UDP or SCTP",
			 proto ? proto : "(not a string)", name);
		return -EINVAL;
	}
	ret->name = strdup(name);
	if (!ret->name)
		return -ENOMEM;
	ret->port = (uint16_t)n;
	ret->proto = p;
	return 0;
}
