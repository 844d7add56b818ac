#!/usr/bin/env bash
# The issue-5 comparison in one run: the same fio jobs on (1) an image file of a mounted pool whose
# pool file is on the disk, (2) the same with the pool file on tmpfs (no disk: what the software
# alone costs), (3) ext4 on the disk pool's image through a loop device, and plain files on the
# disk and on tmpfs; then (4) ext4 through a loop device on a plain file on the disk, the same
# stack without FUSE and dvdo, beside (3). Every job runs on every target in turn, REPS times, so
# that a disturbance (another build on the machine) hits one row, not one column.
# Each job has its own fio seed (the same on every target): fio's buffers follow its seed, so with
# one seed for all jobs a job rewrites, block for block, the data the jobs before it wrote to the
# same pool, and measures deduplication of it instead of new writes (perf/fio/rewrite.sh measures
# that case on purpose). SEED=fio keeps fio's default seed, as the runs before 5 Dec 2026 did.
# Usage (root): perf/fio/compare.sh [WORKDIR] [SECONDS] [SCHEME]   Needs fio, fuse3, e2fsprogs.
# Environment: REPS (default 1), TMPFS (default /dev/shm; empty = no tmpfs targets),
#              SETS (extra "--set Section:Key=Value" arguments for the mounts), NEWSETS (the same for
#              this build's mounts only, not OLD's: keys an older build does not know), EXT4 (1 = run, default 1),
#              SETTLE (seconds, default 0: sync and wait before each job, so that the writeback the
#              previous job left on the same disk is not paid inside the next one; 0 keeps the
#              figures comparable with the earlier runs in perf/HISTORY.md),
#              EXT4REF (1 = run (4), default 1),
#              OLD (path to another build's dvdo.dll, e.g. main's: adds the target old-image, a pool
#              mounted by that build with the same scheme and SETS, run right before dvdo-image in
#              every job, so that old and new alternate in the same run).
# Columns: IOPS, MB/s (10^6 bytes; before 8 Dec 2026 this column was KiB/s ÷ 1000, 2.4% lower),
# mount-cpu = CPU time of the mount process per I/O (µs), busy = whole-machine CPU use during the
# job (% of one core; 200% = both cores of the 2-core machine), p50/p99/p99.9 = fio's completion
# latency (clat: submission to completion, per I/O) percentiles in ms, of the direction the job
# does (write for the jobs here; a read job reports its reads).
set -euo pipefail
work=${1:-/tmp/dvdo-fio}
scheme=${3:-Inline} # the mount's Pipeline:Scheme
secs=${2:-10}
reps=${REPS:-1}
tmpfs=${TMPFS-/dev/shm}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dvdo=(dotnet "$repo/Cli/bin/Release/net10.0/dvdo.dll")
ext=$work/ext4
ext_ref=$work/ext4-ref
names=(); declare -A file pid
mounts=(); pools=(); plains=(); pids=(); loop=""; loop_ref=""

cleanup() {
  set +e
  mountpoint -q "$ext" && umount "$ext"
  mountpoint -q "$ext_ref" && umount "$ext_ref"
  [ -n "$loop" ] && losetup -d "$loop"
  [ -n "$loop_ref" ] && losetup -d "$loop_ref"
  for m in "${mounts[@]}"; do mountpoint -q "$m" && fusermount3 -u "$m"; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -f "${plains[@]}" "${pools[@]}"
}
trap cleanup EXIT

mount_pool() { # name pool-dir [dvdo.dll of another build]
  local name=$1 pool=$2/dvdo-fio-pool-$1 mnt=$work/mnt-$1
  local build=("${dvdo[@]}"); [ -n "${3:-}" ] && build=(dotnet "$3")
  mkdir -p "$mnt"; rm -f "$pool"; pools+=("$pool")
  "${build[@]}" format "$pool" --physical-size 12G --logical-size 64G --image vol=6G >/dev/null
  # shellcheck disable=SC2086 # SETS is a list of arguments
  local own=${NEWSETS:-}; [ -n "${3:-}" ] && own=""
  "${build[@]}" mount "$pool" "$mnt" --set "Pipeline:Scheme=$scheme" ${SETS:-} $own 2>"$work/mount-$name.log" &
  pids+=($!); mounts+=("$mnt"); pid[$name]=$!
  for _ in $(seq 100); do [ -e "$mnt/vol" ] && break; sleep 0.1; done
  [ -e "$mnt/vol" ] || { echo "mount did not come up: $(cat "$work/mount-$name.log")" >&2; exit 1; }
  names+=("$name"); file[$name]=$mnt/vol
}
plain_file() { # name dir
  local f=$2/dvdo-fio-plain-$1.img
  rm -f "$f"; truncate -s 6G "$f"; plains+=("$f"); names+=("$1"); file[$1]=$f
}

dotnet build "$repo/Cli" -c Release -v quiet -nologo >/dev/null
mkdir -p "$work" "$ext" "$ext_ref"
[ -n "${OLD:-}" ] && mount_pool old-image "$work" "$OLD"
mount_pool dvdo-image "$work"
[ -n "$tmpfs" ] && mount_pool dvdo-image-tmpfs "$tmpfs"
plain_file plain-file "$work"
[ -n "$tmpfs" ] && plain_file plain-tmpfs "$tmpfs"

common="--direct=1 --refill_buffers --buffer_compress_percentage=50 --runtime=$secs --time_based --group_reporting --output-format=json --percentile_list=50:99:99.9"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }  # utime+stime in clock ticks (100 Hz)
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
seed_of() { # job index -> fio arguments for that job's seed
  [ "${SEED:-}" = fio ] || echo "--randseed=$((1000 + $1))"
}
run() { # name target job-args... -> one table row
  local name=$1 target=$2; shift 2
  local p=${pid[$name]:-} c0=0 c1=0 b0 b1 t0 t1 out
  if [ "${SETTLE:-0}" != 0 ]; then sync; sleep "$SETTLE"; fi
  [ -n "$p" ] && c0=$(ticks "$p"); b0=$(busy); t0=$(date +%s%N)
  out=$(fio --name=j --filename="$target" $common "$@")
  [ -n "$p" ] && c1=$(ticks "$p"); b1=$(busy); t1=$(date +%s%N)
  # shellcheck disable=SC2016 # python, not shell
  echo "$out" | python3 -c '
import json, sys
job, name, ticks, busy, ms, mounted = sys.argv[1:7]
text = sys.stdin.read()
j = json.loads(text[text.index("{"):])["jobs"][0]  # fio may print notes before the JSON
side = max(("write", "read", "trim"), key=lambda d: j[d]["total_ios"])
s = j[side]
ios = s["iops"] * int(ms) / 1000
cpu = "%.1f" % (int(ticks) * 10000 / ios) if mounted and ios > 0 else "-"
pct = s["clat_ns"].get("percentile", {})
lat = ["%.3f" % (pct[k] / 1e6) if k in pct else "-" for k in ("50.000000", "99.000000", "99.900000")]
print("%-20s %-18s %10.0f %10.0f %10s %6.0f%% %9s %9s %9s" % (job, name, s["iops"], s["bw_bytes"] / 1e6,
      cpu, int(busy) * 1000 / int(ms), *lat))
' "$job" "$name" $((c1 - c0)) $((b1 - b0)) $(((t1 - t0) / 1000000)) "${p:+1}"
}
jobs=(
  "4k-randwrite-qd1|--rw=randwrite --bs=4k --ioengine=psync --iodepth=1 --size=2G"
  "4k-randwrite-qd32|--rw=randwrite --bs=4k --ioengine=libaio --iodepth=32 --size=2G"
  "1M-seqwrite-qd8|--rw=write --bs=1M --ioengine=libaio --iodepth=8 --size=4G"
)
printf "%-20s %-18s %10s %10s %10s %7s %9s %9s %9s\n" job target IOPS MB/s mount-cpu busy p50-ms p99-ms p99.9-ms
for _ in $(seq "$reps"); do
  for i in "${!jobs[@]}"; do
    j=${jobs[$i]}; job=${j%%|*}; args="${j#*|} $(seed_of "$i")"
    for n in "${names[@]}"; do
      run "$n" "${file[$n]}" $args
    done
  done
done

# ext4 on the disk pool's image through a loop device (same jobs on a file inside ext4), and the
# same on a plain file on the disk
if [ "${EXT4:-1}" = 1 ]; then
  loop=$(losetup -f --show --direct-io=on --sector-size 4096 "${file[dvdo-image]}")
  mkfs.ext4 -q "$loop"
  mount "$loop" "$ext"
  pid[ext4-on-dvdo-loop]=${pid[dvdo-image]}
  ext4_targets=(ext4-on-dvdo-loop)
  if [ "${EXT4REF:-1}" = 1 ]; then
    ref=$work/dvdo-fio-plain-ext4-ref.img
    rm -f "$ref"; truncate -s 6G "$ref"; plains+=("$ref")
    loop_ref=$(losetup -f --show --direct-io=on --sector-size 4096 "$ref")
    mkfs.ext4 -q "$loop_ref"
    mount "$loop_ref" "$ext_ref"
    ext4_targets+=(ext4-on-plain-loop)
  fi
  declare -A ext_dir=([ext4-on-dvdo-loop]=$ext [ext4-on-plain-loop]=$ext_ref)
  for i in "${!jobs[@]}"; do
    j=${jobs[$i]}; job=${j%%|*}; args="${j#*|} $(seed_of "$((i + ${#jobs[@]}))")"
    for n in "${ext4_targets[@]}"; do
      run "$n" "${ext_dir[$n]}/fio.dat" $args
    done
  done
fi
"${dvdo[@]}" stats "$work/dvdo-fio-pool-dvdo-image" 2>/dev/null | tail -1
