#!/usr/bin/env bash
# Writing the same data twice through FUSE: a fresh pool, fio writes SIZE at offset 0 (1 MiB,
# qd 8, a fixed seed), then, after sync and a pause, the same SIZE again at offset 3 GiB, so
# that every block of the second pass is a duplicate (a second full backup of unchanged data).
# Prints both passes' MB/s, the mount's CPU during the second, and its dedupe counters.
# Usage (root): perf/fio/rewrite.sh [WORKDIR] [SCHEME] [ROUNDS]    Needs fio, fuse3.
# Environment: SIZE (default 2G), QD (default 8), SETTLE (seconds, default 3), DVDO (a dvdo.dll
# to run instead of this checkout's, e.g. a baseline build's, to compare side by side).
set -euo pipefail
work=${1:-/tmp/dvdo-rewrite}
scheme=${2:-Inline}
rounds=${3:-1}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dll=${DVDO:-$repo/Cli/bin/Release/net10.0/dvdo.dll}
pool=$work/pool mnt=$work/mnt pid=""
cleanup() {
  set +e
  mountpoint -q "$mnt" && fusermount3 -u "$mnt"
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  rm -f "$pool"
}
trap cleanup EXIT
[ -n "${DVDO:-}" ] || dotnet build "$repo/Cli" -c Release -v quiet -nologo >/dev/null
mkdir -p "$mnt"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
job="--filename=$mnt/vol --direct=1 --refill_buffers --buffer_compress_percentage=50 --randseed=7 --output-format=terse --terse-version=3 --rw=write --bs=1M --ioengine=libaio --iodepth=${QD:-8} --size=${SIZE:-2G}"
for _ in $(seq "$rounds"); do
  rm -f "$pool"
  dotnet "$dll" format "$pool" --physical-size 12G --logical-size 64G --image vol=6G >/dev/null
  dotnet "$dll" mount "$pool" "$mnt" --set "Pipeline:Scheme=$scheme" 2>"$work/mount.log" &
  pid=$!
  for _ in $(seq 100); do [ -e "$mnt/vol" ] && break; sleep 0.1; done
  [ -e "$mnt/vol" ] || { echo "mount did not come up: $(cat "$work/mount.log")" >&2; exit 1; }
  # shellcheck disable=SC2086 # job is a list of arguments
  first=$(fio --name=first $job --offset=0 | awk -F';' '{printf "%.0f", $48/1000}')
  sync; sleep "${SETTLE:-3}"
  c0=$(ticks "$pid"); t0=$(date +%s%N)
  # shellcheck disable=SC2086
  again=$(fio --name=again $job --offset=3G | awk -F';' '{printf "%.0f", $48/1000}')
  c1=$(ticks "$pid"); t1=$(date +%s%N)
  fusermount3 -u "$mnt"; wait "$pid"; pid=""
  advice=$(dotnet "$dll" stats "$pool" -v | awk '/dedupeAdvice(Valid|Stale)/{printf "%s=%s ", $1, $3}')
  echo "first pass $first MB/s, second pass (duplicates) $again MB/s, mount CPU $(( (c1 - c0) * 1000 / ((t1 - t0) / 1000000) ))% of a core; $advice"
done
