#!/usr/bin/env bash
# Each issue-5 fio job on a freshly formatted pool of its own (the pool file on the disk, or on
# tmpfs with POOLDIR=/dev/shm), so that no job inherits another's dirty pages, free-space holes or
# compression-probe state; compare.sh runs them one after another on the same pools instead.
# Usage (root): perf/fio/fresh.sh [SECONDS] [SCHEME] [RUNS]   Needs fio and fuse3.
# Environment: POOLDIR (default /tmp/dvdo-fresh), SETS (extra "--set Section:Key=Value" for the mount),
#              NULLFS (1 = also run every job on a do-nothing FUSE file of our binding, the FUSE
#              layer's own ceiling on this machine, right after the job on the pool).
#              WARM (1 = first touch the machine's free memory once through tmpfs: on this VM a page
#              the guest never touched costs a host fault, ~390 MB/s against ~2 GB/s after, and
#              the pool's page cache would pay it inside the measurement).
#              SETTLE (seconds, default 2: before each job, sync and wait, so that the previous
#              job's writeback and the memory its deleted pool freed, which this VM hands back
#              to its host, are not paid inside the next measurement).
# Prints per job: throughput, the mount's CPU (% of one core, and per I/O) and the whole machine's.
set -euo pipefail
secs=${1:-5}
scheme=${2:-Inline}
runs=${3:-1}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dvdo=(dotnet "$repo/Cli/bin/Release/net10.0/dvdo.dll")
nullfs=(dotnet "$repo/perf/DataflowVdo.Perf/bin/Release/net10.0/DataflowVdo.Perf.dll" nullmount)
work=${POOLDIR:-/tmp/dvdo-fresh}
mnt=$work/mnt
pool=$work/pool
mp=""
cleanup() {
  set +e
  mountpoint -q "$mnt" && fusermount3 -u "$mnt"
  [ -n "$mp" ] && wait "$mp" 2>/dev/null
  rm -f "$pool"
}
trap cleanup EXIT
dotnet build "$repo/Cli" -c Release -v quiet -nologo >/dev/null
[ "${NULLFS:-0}" = 1 ] && dotnet build "$repo/perf/DataflowVdo.Perf" -c Release -v quiet -nologo >/dev/null
mkdir -p "$mnt"
if [ "${WARM:-0}" = 1 ]; then
  avail=$(awk '/^MemAvailable:/{print int($2 / 1024) - 4096}' /proc/meminfo) # MiB, leaving 4 GiB
  shm=$(df -m --output=avail /dev/shm | tail -1)
  [ "$avail" -gt "$shm" ] && avail=$shm
  if [ "$avail" -gt 0 ]; then
    dd if=/dev/zero of=/dev/shm/dvdo-warm bs=1M count="$avail" status=none || true
    rm -f /dev/shm/dvdo-warm
  fi
fi
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
jobs=(
  "4k-randwrite-qd1|--rw=randwrite --bs=4k --ioengine=psync --iodepth=1 --size=2G"
  "4k-randwrite-qd32|--rw=randwrite --bs=4k --ioengine=libaio --iodepth=32 --size=2G"
  "1M-seqwrite-qd8|--rw=write --bs=1M --ioengine=libaio --iodepth=8 --size=4G"
)
printf "%-32s %10s %10s %10s %12s %8s\n" job IOPS MB/s mount-cpu cpu-per-io busy
for _ in $(seq "$runs"); do
  for j in "${jobs[@]}"; do
    job=${j%%|*}; args=${j#*|}
    targets=(dvdo); [ "${NULLFS:-0}" = 1 ] && targets+=(null)
    for target in "${targets[@]}"; do
    rm -f "$pool"
    sync
    sleep "${SETTLE:-2}"
    if [ "$target" = dvdo ]; then
      "${dvdo[@]}" format "$pool" --physical-size 12G --logical-size 64G --image vol=6G >/dev/null
      # shellcheck disable=SC2086 # SETS is a list of arguments
      "${dvdo[@]}" mount "$pool" "$mnt" --set "Pipeline:Scheme=$scheme" ${SETS:-} 2>"$work/mount.log" &
      label=$job
    else
      "${nullfs[@]}" "$mnt" 2>"$work/mount.log" &
      label="$job (null FUSE)"
    fi
    mp=$!
    for _ in $(seq 100); do [ -e "$mnt/vol" ] && break; sleep 0.1; done
    [ -e "$mnt/vol" ] || { echo "mount did not come up: $(cat "$work/mount.log")" >&2; exit 1; }
    c0=$(ticks "$mp"); b0=$(busy); t0=$(date +%s%N)
    # shellcheck disable=SC2086 # args is a list of arguments
    out=$(fio --name=j --filename="$mnt/vol" --direct=1 --refill_buffers --buffer_compress_percentage=50 \
      --runtime="$secs" --time_based --group_reporting --output-format=terse --terse-version=3 $args)
    c1=$(ticks "$mp"); b1=$(busy); t1=$(date +%s%N)
    echo "$out" | awk -F';' -v j="$label" -v c=$((c1 - c0)) -v b=$((b1 - b0)) -v ms=$(((t1 - t0) / 1000000)) '{
      ios = $49 * ms / 1000
      printf "%-32s %10.0f %10.0f %9.0f%% %10.1fus %7.0f%%\n", j, $49, $48 / 1000, c * 1000 / ms, (ios > 0 ? c * 10000 / ios : 0), b * 1000 / ms }'
    for _ in $(seq 50); do fusermount3 -u "$mnt" 2>/dev/null && break; sleep 0.2; done
    wait "$mp"; mp=""
    done
  done
done
