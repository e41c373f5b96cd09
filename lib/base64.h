/* SPDX-License-Identifier: Apache-2.0 */
/* Standard base64 (RFC 4648, "+/", "=" padding): etcd's JSON gateway carries bytes so, and
 * `mseg apply` sends large files so (deflated). */
#ifndef MSEG_LIB_BASE64_H
#define MSEG_LIB_BASE64_H

#include <stddef.h>

/* Encodes with padding; *ret is malloc'd and NUL-terminated. */
int mseg_base64_encode(const void *data, size_t len, char **ret);
/* Decodes s (padding optional); *ret is malloc'd with a NUL after its *len bytes; -EINVAL on
 * a bad character or length. */
int mseg_base64_decode(const char *s, void **ret, size_t *len);

#endif
