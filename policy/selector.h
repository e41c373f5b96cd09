/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes LabelSelector matching (struct mseg_selector, policy/model.h): every matchLabels
 * pair present and equal, and every expression true (In, NotIn, Exists, DoesNotExist). An
 * empty selector matches every label set. Pure functions, no allocation.
 */
#ifndef MSEG_POLICY_SELECTOR_H
#define MSEG_POLICY_SELECTOR_H

#include <stdbool.h>

#include "policy/model.h"

bool mseg_selector_matches(const struct mseg_selector *sel, const struct mseg_labels *labels);
/* true when the selector has neither matchLabels nor matchExpressions (selects everything) */
bool mseg_selector_is_empty(const struct mseg_selector *sel);

#endif
