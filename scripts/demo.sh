#!/usr/bin/env bash
# The README's first command: watch the operator shut critical pods down without losing a vote.
#   scripts/demo.sh
# 1. scripts/setup.sh (installs what is missing, builds build/), unless MEDIVOTE_DEMO_SKIP_SETUP=1;
# 2. scripts/demo.py in a fresh temp dir: simulated cluster + kubelet, CRD, operator, the reference services of
#    deploy/samples, votes under load, scale down / upgrade / delete with a timeline of each pod's shutdown stages,
#    and the tally "votes: acknowledged=N persisted=N lost=N".
# Exit status: 0 only when no vote was lost and no process was left behind.
#   scripts/demo.sh --stack
# The six MediVote services of deploy/samples/ instead (scripts/demo_stack.py: pods isolated like real pods, so
# root is needed), installed with the stack chart (charts/medivote): each scaled to zero, all six brought back, then
# `helm uninstall` (shut down in MediVote's stop order), with the timelines; exit 0 only when every shutdown followed
# its service's contract, the stop order held, the saved files were found on the claims and no process was left.
# Environment: MEDIVOTE_BUILD_DIR (default build/), MEDIVOTE_DEMO_SKIP_SETUP=1, MEDIVOTE_DEMO_KEEP=1 (keep the temp
# dir with the logs), NO_COLOR=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

body="$root/scripts/demo.py"
case "${1:-}" in
  "") ;;
  --stack) body="$root/scripts/demo_stack.py" ;;
  *) echo "usage: scripts/demo.sh [--stack]" >&2; exit 2 ;;
esac

if [ "${MEDIVOTE_DEMO_SKIP_SETUP:-0}" != 1 ]; then
  echo "== scripts/setup.sh (install what is missing, build)"
  scripts/setup.sh
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/medivote-demo.XXXXXX")
demo_pid=""

# Processes whose command line or working directory lies in the work dir: the simulators, the operator and
# every pod process (the kubelet simulator starts containers in <work>/sim/kubelet/pods/...).
leftovers() {
  local p cwd
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    if [[ "$cwd" == "$work"* ]] || tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$work"; then
      [ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = Z ] || echo "${p#/proc/}"
    fi
  done
}

cleanup() {
  local code=$? left
  trap - EXIT INT TERM
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  # demo.py stops what it started; this is the safety net for a demo.py that died hard.
  if [ -f "$work/operator.pid" ]; then
    kill -TERM "$(cat "$work/operator.pid")" 2>/dev/null || true
  fi
  if [ -f "$work/sim/apiserver.pid" ]; then
    sim/simctl stop --dir "$work/sim" >/dev/null 2>&1 || true
  fi
  for _ in $(seq 50); do
    left=$(leftovers)
    [ -z "$left" ] && break
    sleep 0.1
  done
  if [ -n "$left" ]; then
    echo "demo: processes left behind: $left" >&2
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    code=3
  else
    echo "demo: no process left behind"
  fi
  if [ "${MEDIVOTE_DEMO_KEEP:-0}" = 1 ]; then
    echo "demo: logs kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 "$body" --dir "$work" &
demo_pid=$!
set +e
wait "$demo_pid"
status=$?
set -e
demo_pid=""
exit "$status"
