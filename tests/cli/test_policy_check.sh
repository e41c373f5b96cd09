# SPDX-License-Identifier: Apache-2.0
# `mseg policy check`: every malformed document of tests/data/malformed/ is rejected with
# exactly the message lines of its NAME.expected; the examples pass silently; usage, stdin,
# directories and JSON output behave as documented.

PC_TOP=${MSEG_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PC_MALFORMED=$PC_TOP/tests/data/malformed

test_malformed_documents_give_expected_errors() {
	local f name out rc n=0 bad=0
	[ -x "$MSEG" ] || fail "no $MSEG (build first)" || return 1
	for f in "$PC_MALFORMED"/*.yaml; do
		name=$(basename "$f" .yaml)
		[ -f "$PC_MALFORMED/$name.expected" ] || { fail "$name: no $name.expected"; bad=1; continue; }
		# run from the directory so messages name the file as the .expected files do
		out=$(cd "$PC_MALFORMED" && "$MSEG" policy check -f "$name.yaml" 2>&1 >/dev/null)
		rc=$?
		if [ $rc -ne 1 ]; then
			fail "$name: exit $rc, expected 1"
			bad=1
		fi
		if [ "$out" != "$(cat "$PC_MALFORMED/$name.expected")" ]; then
			fail "$name: got:"$'\n'"$out"$'\n'"expected:"$'\n'"$(cat "$PC_MALFORMED/$name.expected")"
			bad=1
		fi
		n=$((n + 1))
	done
	[ $n -ge 30 ] || fail "only $n malformed documents, want at least 30" || return 1
	return $bad
}

test_every_message_names_line_column_and_field() {
	local bad
	# file:line:col: field.path: message; only whole-document problems have no field
	bad=$(cat "$PC_MALFORMED"/*.expected | grep -Ev \
		-e '^[a-z0-9-]+\.yaml:[0-9]+:[0-9]+: (apiVersion|kind|metadata|spec)[][a-zA-Z0-9.]*: .+' \
		-e '^[a-z0-9-]+\.yaml:[0-9]+:[0-9]+: (invalid YAML|YAML aliases|expected a policy document|this is an endpoints file).+')
	[ -z "$bad" ] || fail "messages without line, column or field:"$'\n'"$bad"
}

test_examples_pass_silently() {
	local out f
	out=$("$MSEG" policy check -f "$PC_TOP/examples/policies" 2>&1) ||
		fail "examples rejected: $out" || return 1
	[ -z "$out" ] || fail "a valid directory printed: $out" || return 1
	for f in "$PC_TOP"/examples/policies/*.yaml; do
		out=$("$MSEG" policy check -f "$f" 2>&1) || fail "$f rejected: $out" || return 1
		[ -z "$out" ] || fail "$f printed: $out" || return 1
	done
}

test_stdin_and_several_paths() {
	local out rc
	out=$("$MSEG" policy check -f - <"$PC_MALFORMED/port-zero.yaml" 2>&1)
	rc=$?
	[ $rc -eq 1 ] || fail "stdin: exit $rc" || return 1
	case $out in
	"<stdin>:11:17: spec.egress[0].ports[0].port: 0 is out of range 1-65535") ;;
	*) fail "stdin: got $out"; return 1 ;;
	esac
	"$MSEG" policy check -f - <"$PC_TOP/examples/policies/01-networkpolicy-basic.yaml" ||
		fail "valid stdin rejected" || return 1
	# one bad path among good ones fails the whole run and names only the bad file
	out=$(cd "$PC_MALFORMED" && "$MSEG" policy check -f "$PC_TOP/examples/policies" \
		-f endport-below-port.yaml 2>&1)
	rc=$?
	[ $rc -eq 1 ] || fail "mixed: exit $rc" || return 1
	[ "$out" = "$(cat "$PC_MALFORMED/endport-below-port.expected")" ] ||
		fail "mixed: got $out" || return 1
	out=$("$MSEG" policy check -f "$MT_DIR/does-not-exist.yaml" 2>&1)
	[ $? -eq 1 ] || fail "missing file accepted" || return 1
	case $out in *"does-not-exist.yaml: cannot read: No such file or directory"*) ;;
	*) fail "missing file: $out"; return 1 ;;
	esac
}

test_duplicates_across_files() {
	local out
	cp "$PC_TOP/examples/policies/01-networkpolicy-basic.yaml" "$MT_DIR/a.yaml" || return 1
	cp "$PC_TOP/examples/policies/01-networkpolicy-basic.yaml" "$MT_DIR/b.yaml" || return 1
	out=$("$MSEG" policy check -f "$MT_DIR" 2>&1)
	[ $? -eq 1 ] || fail "duplicates accepted" || return 1
	case $out in *"b.yaml:"*"duplicate NetworkPolicy"*"already defined at $MT_DIR/a.yaml"*) ;;
	*) fail "duplicates: $out"; return 1 ;;
	esac
}

test_json_output() {
	local out
	out=$(cd "$PC_MALFORMED" && "$MSEG" policy check -o json -f many-errors.yaml 2>/dev/null)
	[ $? -eq 1 ] || fail "json: exit status" || return 1
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is False, d
assert d["policies"] == 0, d
e = d["errors"][0]
assert e == {"file": "many-errors.yaml", "line": 8, "column": 36,
             "field": "spec.podSelector.matchLabels.app",
             "message": "\"-web\" is not a valid label value: must start and end with an alphanumeric character"}, e
assert len(d["errors"]) == 5, d
' "$out" || fail "json: $out" || return 1
	out=$("$MSEG" policy check -o json -f "$PC_TOP/examples/policies") ||
		fail "json valid: exit status" || return 1
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is True and d["errors"] == [] and d["policies"] > 5, d
' "$out" || fail "json valid: $out" || return 1
}

test_usage() {
	local rc
	"$MSEG" policy check >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "no -f: exit $rc" || return 1
	"$MSEG" policy check --bogus >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "unknown option: exit $rc" || return 1
	"$MSEG" policy check -o xml -f x >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "bad -o: exit $rc" || return 1
	"$MSEG" policy check stray.yaml >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "positional: exit $rc" || return 1
	expect_output_contains "help" "Usage: mseg policy check" "$MSEG" policy check --help || return 1
	expect_output_contains "listed" "check" "$MSEG" policy --help || return 1
}
