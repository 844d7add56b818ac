#!/usr/bin/env bash
# Several builds side by side: per repetition, each build's `dvdo bench --scheme all` in turn
# (alternated, so a disturbance hits one row, not one build), then the last build again with the
# runner gate off. One JSON object per result on stdout.
#
#   perf/sweep/builds.sh REPS WORKLOAD name=path/to/dvdo [name=path/to/dvdo ...] > results.jsonl
#
# e.g. perf/sweep/builds.sh 3 mixed base=/work/wt/base/Cli/bin/Release/net10.0/dvdo new=Cli/bin/Release/net10.0/dvdo
# Runs are serialized with flock on /tmp/dvdo-bench.lock (benchmarks need the machine alone).
set -euo pipefail
reps=${1:?REPS}; wl=${2:?WORKLOAD}; shift 2
[ $# -ge 1 ] || { echo "give at least one name=path build" >&2; exit 2; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
emit() { python3 "$(dirname "$0")/emit.py" "$tmp" "$1" "$wl" "$2" "$3"; } # rep build variant
run() { flock /tmp/dvdo-bench.lock "$@" --workload "$wl" --queue-depth 32 --seconds 5 --json > "$tmp" 2>/dev/null; }
for rep in $(seq "$reps"); do
  for b in "$@"; do
    run "${b#*=}" bench --scheme all && emit "$rep" "${b%%=*}" default
  done
  last=${!#}
  run "${last#*=}" bench --scheme all --set Pipeline:Runners=-1 && emit "$rep" "${last%%=*}" nogate
done
