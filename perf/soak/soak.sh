#!/usr/bin/env bash
# The soak of issue 21 (I8, bounded memory): 10 minutes of mixed load through a mount, the mount
# process's RSS sampled every SAMPLE seconds; after the warm-up, RSS must stay within +-10% of its
# post-warm-up mean. Needs the machine to itself: run it under flock /tmp/dvdo-bench.lock.
# Usage (root): flock /tmp/dvdo-bench.lock perf/soak/soak.sh [WORKDIR] [SECONDS] [SCHEME]
# Environment: WARMUP (seconds, default 120), SAMPLE (seconds, default 5), TOLERANCE (percent, default 10).
# Needs fio and fuse3. Prints the samples, then "rss: min/mean/max MiB after warm-up, spread P%"
# last, and exits 1 when the spread is outside the tolerance or the mount died.
set -euo pipefail
work=${1:-/tmp/dvdo-soak}
secs=${2:-600}
scheme=${3:-Inline}
warmup=${WARMUP:-120}
sample=${SAMPLE:-5}
tolerance=${TOLERANCE:-10}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dvdo=(dotnet "$repo/Cli/bin/Release/net10.0/dvdo.dll")
pool=$work/soak.pool
mnt=$work/mnt
mkdir -p "$work" "$mnt"
mount_pid=""; fio_pid=""

cleanup() {
  set +e
  [ -n "$fio_pid" ] && kill "$fio_pid" 2>/dev/null && wait "$fio_pid" 2>/dev/null
  mountpoint -q "$mnt" && fusermount3 -u "$mnt"
  [ -n "$mount_pid" ] && wait "$mount_pid" 2>/dev/null
  rm -f "$pool"
}
trap cleanup EXIT

rm -f "$pool"
"${dvdo[@]}" format "$pool" --physical-size 8G --logical-size 32G --image vol=4G >/dev/null
"${dvdo[@]}" mount "$pool" "$mnt" --set "Pipeline:Scheme=$scheme" 2>"$work/mount.log" &
mount_pid=$!
for _ in $(seq 100); do [ -e "$mnt/vol" ] && break; sleep 0.1; done
[ -e "$mnt/vol" ] || { echo "mount did not come up: $(cat "$work/mount.log")" >&2; exit 1; }

# Mixed load: random writes of 4 KiB to 1 MiB (half of them duplicates, half compressible) and reads,
# with an fsync every 64 writes, for the whole run.
fio --name=soak --filename="$mnt/vol" --size=3G --direct=0 --ioengine=psync --time_based --runtime="$secs" \
    --rw=randrw --rwmixread=40 --bsrange=4k-1m --dedupe_percentage=50 --buffer_compress_percentage=50 \
    --refill_buffers --fsync=64 --numjobs=2 --group_reporting >"$work/fio.log" 2>&1 &
fio_pid=$!

samples=()
start=$(date +%s)
while kill -0 "$fio_pid" 2>/dev/null; do
  sleep "$sample"
  kill -0 "$mount_pid" 2>/dev/null || { echo "the mount died: $(tail -5 "$work/mount.log")" >&2; exit 1; }
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$mount_pid/status")
  t=$(( $(date +%s) - start ))
  echo "t=${t}s rss=$(( rss / 1024 )) MiB"
  [ "$t" -ge "$warmup" ] && samples+=("$rss")
done
wait "$fio_pid" || { echo "fio failed: $(tail -5 "$work/fio.log")" >&2; exit 1; }
[ "${#samples[@]}" -gt 0 ] || { echo "no samples after the warm-up (run longer than WARMUP)" >&2; exit 1; }
printf '%s\n' "${samples[@]}" | awk -v tol="$tolerance" '
  { s += $1; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1; n++ }
  END {
    mean = s / n; spread = 100 * ((max - mean > mean - min) ? max - mean : mean - min) / mean
    printf "rss: %.0f/%.0f/%.0f MiB after warm-up, spread %.1f%% (tolerance %d%%)\n", min / 1024, mean / 1024, max / 1024, spread, tol
    exit (spread > tol) ? 1 : 0
  }'
