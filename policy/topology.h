/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The endpoints file of the offline tools (mseg policy trace/matrix --endpoints), YAML or JSON:
 *
 *   namespaces:
 *     - {name: x, labels: {team: red}}
 *   endpoints:
 *     - {namespace: x, name: a, labels: {pod: a}, ip: 10.200.0.10,
 *        ports: [{name: serve-80-tcp, port: 80, protocol: TCP}]}
 */
#ifndef MSEG_POLICY_TOPOLOGY_H
#define MSEG_POLICY_TOPOLOGY_H

#include <stddef.h>

#include "policy/diag.h"
#include "policy/model.h"

/*
 * Namespaces used but not listed exist with only the automatic label; every namespace gets
 * kubernetes.io/metadata.name=<name>; endpoint ids = position + 1; ip required (IPv4), ports
 * optional. Errors as for policies: -EINVAL with diag filled, topo untouched. On success topo
 * (which must start empty) is filled.
 */
int mseg_topology_load(const char *path, struct mseg_topology *topo, struct mseg_diag *diag);
int mseg_topology_parse_buffer(const char *name, const char *buf, size_t len,
			       struct mseg_topology *topo, struct mseg_diag *diag);

#endif
