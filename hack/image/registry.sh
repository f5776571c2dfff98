# registry.sh, sourced by image.sh and image-check.sh: a crane registry on a free loopback port for the length
# of the script, and the temporary directory both work in. Needs CRANE set; sets work, port and the EXIT trap.
work=$(mktemp -d)
registry_pid=""
cleanup() { [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# start_registry: serve a registry on 127.0.0.1:$port and wait until it answers.
start_registry() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$CRANE" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do "$CRANE" catalog --insecure "127.0.0.1:$port" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "the crane registry on 127.0.0.1:$port did not start:" >&2; cat "$work/registry.log" >&2; return 1
}
