#!/usr/bin/env bash
# The scheme comparison of issue 4 over the whole matrix: workloads x zone counts x worker
# counts, every scheme measured in one `dvdo bench` run per cell (so each row's ratios are
# side by side), on 1-block requests and on 16-block requests (where the batched variant runs too).
#
#   perf/sweep/sweep.sh OUTDIR [SECONDS] [QUEUE_DEPTH]
#
# Workers = cores the process may use (taskset): .NET sizes its thread pool and the Dataflow
# pools (parallelism 0 = one per core) from them. Zones = logical = physical = hash zones.
# Writes one JSON per cell (OUTDIR/WORKLOAD-zZ-wW[-rb16].json) and prints the summary tables
# (perf/sweep/summarize.py OUTDIR).
set -euo pipefail
out=${1:?usage: sweep.sh OUTDIR [SECONDS] [QUEUE_DEPTH]}
seconds=${2:-3}
depth=${3:-32}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$out"
dotnet build "$root/Cli" -c Release -nologo -v quiet >/dev/null
dvdo="$root/Cli/bin/Release/net10.0/dvdo"
cores=$(nproc)
workers=(1 2)
(( cores > 2 )) && workers+=("$cores")
for w in "${workers[@]}"; do
  (( w > cores )) && continue
  cpus="0-$((w - 1))"
  for z in 1 2 4; do
    zones=(--set "Pipeline:LogicalZones=$z" --set "Pipeline:PhysicalZones=$z" --set "Pipeline:HashZones=$z")
    for wl in unique dup compressible zero read mixed; do
      f="$out/$wl-z$z-w$w.json"
      [[ -s $f ]] && continue # resumable
      echo "== $wl zones=$z workers=$w" >&2
      taskset -c "$cpus" "$dvdo" bench --workload "$wl" --scheme all --seconds "$seconds" --queue-depth "$depth" --json "${zones[@]}" > "$f.tmp"
      mv "$f.tmp" "$f"
    done
    for wl in unique dup compressible zero read mixed; do
      f="$out/$wl-z$z-w$w-rb16.json"
      [[ -s $f ]] && continue
      echo "== $wl, 16-block requests, zones=$z workers=$w" >&2
      taskset -c "$cpus" "$dvdo" bench --workload "$wl" --scheme all --request-blocks 16 --seconds "$seconds" --queue-depth "$(( depth / 4 > 0 ? depth / 4 : 1 ))" --json "${zones[@]}" > "$f.tmp"
      mv "$f.tmp" "$f"
    done
  done
done
python3 "$here/summarize.py" "$out"
