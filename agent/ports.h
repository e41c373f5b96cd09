/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named ports of an endpoint ({name, port, protocol}, as a Kubernetes containerPort): the
 * Kubernetes rule for port names (IANA_SVC_NAME) and the protocols a policy can name.
 */
#ifndef MSEG_AGENT_PORTS_H
#define MSEG_AGENT_PORTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/model.h"

/*
 * IANA_SVC_NAME: 1-15 characters of [a-z0-9-], at least one letter, no leading, trailing or
 * doubled '-'. -EINVAL with *why (static) on failure.
 */
int mseg_port_name_check(const char *name, const char **why);
/* "TCP", "UDP", "SCTP" (any case) -> MSEG_PROTO_*; -EINVAL otherwise. */
int mseg_proto_parse(const char *s, uint8_t *ret);
/*
 * {"name": "http", "port": 80, "protocol": "TCP"} (protocol optional, default TCP) into ret
 * (ret->name malloc'd). Bad input: -EINVAL and msg says which value is wrong and why.
 */
int mseg_port_from_json(json_t *o, struct mseg_named_port *ret, char *msg, size_t msglen);

#endif
