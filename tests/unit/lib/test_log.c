// SPDX-License-Identifier: Apache-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "lib/log.h"
#include "lib/macro.h"

static void test_log_errno_returns_negative(void **state)
{
	mseg_log_init("test", MSEG_LOG_ERR);
	assert_int_equal(log_errno(ENOENT, "opening '%s'", "x"), -ENOENT);
	assert_int_equal(log_errno(-EINVAL, "parsing"), -EINVAL);
}

static void test_take_ptr_clears_source(void **state)
{
	_cleanup_free_ char *p = malloc(4);
	char *q = TAKE_PTR(p);

	assert_null(p);
	assert_non_null(q);
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_errno_returns_negative),
		cmocka_unit_test(test_take_ptr_clears_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
