#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CLI tests that need no namespaces (offline policy tools). Usage: run.sh [FILTER]
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../shell-suite.sh" "$here" "${1:-}"
