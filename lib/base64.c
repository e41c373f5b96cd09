// SPDX-License-Identifier: Apache-2.0
#include "lib/base64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int mseg_base64_encode(const void *data, size_t len, char **ret)
{
	const uint8_t *p = data;
	char *out, *o;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return -E2BIG;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64chars[v >> 18 & 63];
		*o++ = b64chars[v >> 12 & 63];
		*o++ = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64chars[v & 63] : '=';
	}
	*o = 0;
	*ret = out;
	return 0;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int mseg_base64_decode(const char *s, void **ret, size_t *len)
{
	size_t n = strlen(s), out_len = 0;
	uint32_t acc = 0;
	int bits = 0;
	uint8_t *out;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (strlen(s) - n > 2 || n % 4 == 1)
		return -EINVAL;
	/* One extra byte: values are handed out NUL-terminated. */
	out = malloc(n / 4 * 3 + 3 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(s[i]);

		if (v < 0) {
			free(out);
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[out_len++] = (uint8_t)(acc >> bits);
		}
	}
	out[out_len] = 0;
	*ret = out;
	*len = out_len;
	return 0;
}
