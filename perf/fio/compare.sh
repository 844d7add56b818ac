#!/usr/bin/env bash
# The issue-5 comparison in one run: the same fio jobs on (1) an image file of a mounted pool,
# (2) ext4 on that image through a loop device, and (3) a plain file on the same disk.
# Usage (root): perf/fio/compare.sh [WORKDIR] [SECONDS] [SCHEME]   Needs fio, fuse3, e2fsprogs.
set -euo pipefail
work=${1:-/tmp/dvdo-fio}
scheme=${3:-Inline} # the mount's Pipeline:Scheme
secs=${2:-10}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dvdo=(dotnet "$repo/Cli/bin/Release/net10.0/dvdo.dll")
pool=$work/pool; mnt=$work/mnt; ext=$work/ext4; plain=$work/plain.img
loop=""; mountpid=""

cleanup() {
  set +e
  mountpoint -q "$ext" && umount "$ext"
  [ -n "$loop" ] && losetup -d "$loop"
  mountpoint -q "$mnt" && fusermount3 -u "$mnt"
  [ -n "$mountpid" ] && wait "$mountpid" 2>/dev/null
  rm -f "$plain" "$pool"
}
trap cleanup EXIT

dotnet build "$repo/Cli" -c Release -v quiet -nologo >/dev/null
mkdir -p "$work" "$mnt" "$ext"
rm -f "$pool"
"${dvdo[@]}" format "$pool" --physical-size 12G --logical-size 64G --image vol=6G >/dev/null
"${dvdo[@]}" mount "$pool" "$mnt" --set "Pipeline:Scheme=$scheme" 2>"$work/mount.log" &
mountpid=$!
for _ in $(seq 100); do [ -e "$mnt/vol" ] && break; sleep 0.1; done
[ -e "$mnt/vol" ] || { echo "mount did not come up: $(cat "$work/mount.log")" >&2; exit 1; }
truncate -s 6G "$plain"

common="--direct=1 --refill_buffers --buffer_compress_percentage=50 --runtime=$secs --time_based --group_reporting --output-format=terse --terse-version=3"
run() { # target job-args... -> "IOPS MB/s"
  local target=$1; shift
  fio --name=j --filename="$target" $common "$@" | awk -F';' '{printf "%.0f %.0f\n", $49, $48/1000}'
}
jobs=(
  "4k-randwrite-qd1|--rw=randwrite --bs=4k --ioengine=psync --iodepth=1 --size=2G"
  "4k-randwrite-qd32|--rw=randwrite --bs=4k --ioengine=libaio --iodepth=32 --size=2G"
  "1M-seqwrite-qd8|--rw=write --bs=1M --ioengine=libaio --iodepth=8 --size=4G"
)
printf "%-20s %-22s %10s %10s\n" job target IOPS MB/s
for j in "${jobs[@]}"; do
  name=${j%%|*}; args=${j#*|}
  for target in "$mnt/vol" "$plain"; do
    read -r iops mbs < <(run "$target" $args)
    printf "%-20s %-22s %10s %10s\n" "$name" "$([ "$target" = "$plain" ] && echo plain-file || echo dvdo-image)" "$iops" "$mbs"
  done
done

# ext4 on the image through a loop device, vs the plain file (same jobs on a file inside ext4)
loop=$(losetup -f --show --direct-io=on --sector-size 4096 "$mnt/vol")
mkfs.ext4 -q "$loop"
mount "$loop" "$ext"
for j in "${jobs[@]}"; do
  name=${j%%|*}; args=${j#*|}
  read -r iops mbs < <(run "$ext/fio.dat" $args)
  printf "%-20s %-22s %10s %10s\n" "$name" "ext4-on-dvdo-loop" "$iops" "$mbs"
done
"${dvdo[@]}" stats "$pool" 2>/dev/null | tail -1
