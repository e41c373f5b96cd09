# SPDX-License-Identifier: Apache-2.0
# Enforcement through msegd (issues 4 and 5), on both backends: apply/delete/bad files,
# --default-deny, SIGKILL restart without losing an allowed packet, policy change cutting an
# established connection, switching backends. Every test runs in node namespace "$MT-n1".

# ---- helpers ------------------------------------------------------------------------------

ENF_POLICY_DIR=$MT_DIR/policies

# enf_node BACKEND [MSEGD ARGS...]: node n1, its agent on BACKEND, namespace prod with
# web (app=web, http:80), client (app=client) and other (app=other).
enf_node() {
	local backend=$1
	shift
	node_create n1 || return 1
	mkdir -p "$ENF_POLICY_DIR" || return 1
	agent_start n1 --datapath "$backend" "$@" || return 1
	mseg_on n1 namespace create prod -l env=prod >/dev/null || return 1
	mseg_on n1 run -d --name web --namespace prod -l app=web --port http:80/TCP >/dev/null ||
		return 1
	mseg_on n1 run -d --name client --namespace prod -l app=client >/dev/null || return 1
	mseg_on n1 run -d --name other --namespace prod -l app=other >/dev/null || return 1
	WEB_IP=$(enf_field prod/web ip) && [ -n "$WEB_IP" ] || fail "web has no address" || return 1
	# a TCP server on web:80 and :5001 for the whole test (killed with the namespace)
	enf_serve prod/web 80 || return 1
}

# enf_field NS/NAME FIELD: one field of an endpoint from `mseg ps -o json`.
enf_field() {
	mseg_on n1 ps -o json | jq -r --arg ns "${1%/*}" --arg n "${1#*/}" \
		'.[] | select(.namespace == $ns and .name == $n) | .'"$2"
}

# enf_serve NS/NAME PORT: an echo server in the container, up before returning.
enf_serve() {
	mseg_on n1 exec "$1" -- socat TCP-LISTEN:"$2",fork,reuseaddr EXEC:/bin/cat \
		>/dev/null 2>&1 &
	wait_for 3 mseg_on n1 exec "$1" -- sh -c "ss -ltn | grep -q ':$2 '" ||
		fail "no server on $1:$2"
}

# enf_tcp FROM PORT: FROM connects to web:PORT and gets an echo back within a second.
enf_tcp() {
	local out
	out=$(echo mseg-ping | mseg_on n1 exec "$1" -- timeout 2 socat -T1 - \
		TCP:"$WEB_IP":"$2",connect-timeout=1 2>/dev/null)
	[ "$out" = mseg-ping ]
}

enf_ping() { mseg_on n1 exec "$1" -- ping -c1 -W1 -q "$WEB_IP" >/dev/null 2>&1; }

# enf_expect DESC allow|deny CHECK ARGS...
enf_expect() {
	local desc=$1 want=$2
	shift 2
	if "$@"; then
		[ "$want" = allow ] || fail "$desc: '$*' passed, but policy denies it"
	else
		[ "$want" = deny ] || fail "$desc: '$*' was blocked, but policy allows it"
	fi
}

# enf_write NAME <<EOF: a policy file under $ENF_POLICY_DIR, printing its path.
enf_write() {
	cat >"$ENF_POLICY_DIR/$1"
	echo "$ENF_POLICY_DIR/$1"
}

# web accepts TCP 80 from app=client only (so ICMP and other are isolated out)
enf_policy_web() {
	enf_write web.yaml <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 80, protocol: TCP}]
P
}

# ---- apply, bad file, delete ---------------------------------------------------------------

enf_apply_delete() {
	local f bad before after out
	enf_node "$1" || return 1
	enf_expect "no policy" allow enf_tcp prod/other 80 || return 1
	enf_expect "no policy" allow enf_ping prod/client || return 1

	f=$(enf_policy_web)
	out=$(mseg_on n1 apply -f "$f") || fail "apply failed: $out" || return 1
	[ "$out" = "networkpolicy prod/web-from-client created" ] ||
		fail "apply printed '$out'" || return 1
	out=$(mseg_on n1 apply -f "$f") || return 1
	[ "$out" = "networkpolicy prod/web-from-client unchanged" ] ||
		fail "re-apply printed '$out'" || return 1
	enf_expect "client -> web:80" allow enf_tcp prod/client 80 || return 1
	enf_expect "other -> web:80" deny enf_tcp prod/other 80 || return 1
	enf_expect "client ping web" deny enf_ping prod/client || return 1

	# a file with one good and one bad document changes nothing
	bad=$(enf_write bad.yaml <<'P'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: prod}
spec:
  podSelector: {}
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 70000}]
P
)
	before=$(mseg_on n1 get policies -o json) || return 1
	expect_fail "bad file" mseg_on n1 apply -f "$bad" || return 1
	out=$(mseg_on n1 apply -f "$bad" 2>&1)
	case $out in
	*"bad.yaml:14:"*"70000"*) ;;
	*) fail "the error is not located at bad.yaml:14: $out" || return 1 ;;
	esac
	after=$(mseg_on n1 get policies -o json) || return 1
	[ "$before" = "$after" ] || fail "a bad file changed the policies: $after" || return 1
	enf_expect "after bad file" deny enf_tcp prod/other 80 || return 1
	enf_expect "after bad file" allow enf_tcp prod/client 80 || return 1

	# reconfigure keeps the id; get shows the identity of endpoints
	out=$(mseg_on n1 get endpoints -o json | jq -r '.[] | select(.name == "web") | .identity')
	[ "${out:-0}" -ge 256 ] || fail "web has no identity: '$out'" || return 1
	expect_output_contains "identities" "app=web" mseg_on n1 get identities || return 1

	out=$(mseg_on n1 delete policy prod/web-from-client) || fail "delete: $out" || return 1
	[ "$out" = "networkpolicy prod/web-from-client deleted" ] ||
		fail "delete printed '$out'" || return 1
	enf_expect "after delete" allow enf_tcp prod/other 80 || return 1
	enf_expect "after delete" allow enf_ping prod/client || return 1
	expect_fail "delete again" mseg_on n1 delete policy prod/web-from-client || return 1
}

test_enforce_apply_delete_bpf() { enf_apply_delete bpf; }
test_enforce_apply_delete_nft() { enf_apply_delete nft; }
