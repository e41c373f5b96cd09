#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The namespace scenarios (root only). Usage: run.sh [FILTER]
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "SKIP netns: namespace tests need root"
	exit 0
fi
exec "$here/../shell-suite.sh" "$here" "${1:-}"
