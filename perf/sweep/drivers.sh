#!/usr/bin/env bash
# Issue 18/19 comparison: an older build against this one, every scheme, then the presets and the
# runner gate off, alternated per repetition on the same blocks; one JSON object per result.
#
#   OLD=path/to/old/dvdo NEW=path/to/new/dvdo perf/sweep/drivers.sh [REPS] [WORKLOAD] > results.jsonl
#   python3 perf/sweep/drivers.py results.jsonl
#
# Runs are serialized with flock on /tmp/dvdo-bench.lock (benchmarks need the machine alone).
set -euo pipefail
NEW=${NEW:?set NEW to the dvdo binary under test}
OLD=${OLD:?set OLD to the dvdo binary to compare with}
reps=${1:-3}; wl=${2:-mixed}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
emit() { python3 "$(dirname "$0")/emit.py" "$tmp" "$1" "$wl" "$2" "$3"; } # rep build variant
run() { flock /tmp/dvdo-bench.lock "$@" --workload "$wl" --queue-depth 32 --seconds 5 --json > "$tmp" 2>/dev/null; }
for rep in $(seq "$reps"); do
  run "$OLD" bench --scheme all && emit "$rep" old default
  run "$NEW" bench --scheme all && emit "$rep" new default
  for v in "StructureLocking grouped" "StructureLocking front-back" "MessagePassing grouped" "MessagePassing front-back"; do
    set -- $v
    run "$NEW" bench --scheme "$1" --set Pipeline:Preset="$2" && emit "$rep" new "$2"
  done
  run "$NEW" bench --scheme both --set Pipeline:Runners=-1 && emit "$rep" new nogate
  run "$NEW" bench --scheme Inline --set Pipeline:Runners=-1 && emit "$rep" new nogate
done
