/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers the rtnetlink builder tests share: collect one level of attributes by type (a type
 * seen twice is a failure) and parse addresses. Include after <cmocka.h> and <libmnl/libmnl.h>.
 */
#ifndef MSEG_TEST_NLATTR_HELPERS_H
#define MSEG_TEST_NLATTR_HELPERS_H

#include "policy/cidr.h"

#define MAXTYPE 64

struct attrs {
	const struct nlattr *tb[MAXTYPE];
};

static int collect_cb(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;
	uint16_t type = mnl_attr_get_type(attr);

	assert_true(type < MAXTYPE);
	assert_null(a->tb[type]);
	a->tb[type] = attr;
	return MNL_CB_OK;
}

static inline struct attrs parse(const struct nlmsghdr *nlh, size_t family_len)
{
	struct attrs a = {0};

	assert_int_equal(mnl_attr_parse(nlh, family_len, collect_cb, &a), MNL_CB_OK);
	return a;
}

static inline struct attrs parse_nested(const struct nlattr *nest)
{
	struct attrs a = {0};

	assert_non_null(nest);
	assert_int_equal(mnl_attr_parse_nested(nest, collect_cb, &a), MNL_CB_OK);
	return a;
}

static inline struct mseg_cidr cidr(const char *s)
{
	struct mseg_cidr c;
	const char *why;

	assert_int_equal(mseg_cidr_parse(s, false, &c, &why), 0);
	return c;
}

#endif
