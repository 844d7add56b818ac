#!/bin/sh
# Restore through the CLI, base against new in the same run (session 8, issue 20's restore target).
# usage: run.sh BASE_DVDO NEW_DVDO [DATA_DIR] [ROUNDS]
#   BASE_DVDO, NEW_DVDO: `dotnet publish Cli -c Release -r linux-x64 --self-contained false -o DIR` of
#   each commit (ReadyToRun, as perf/ingest/run.sh installs dvdo); DATA_DIR: perf/ingest/datasets.py's
#   output (default /tmp/dvdo-ingest-data).
# For each dataset (images, tar, random30dup) the base build ingests its generations into a fresh
# pool (8 GiB physical, 256 GiB logical, as run.py formats), then bench.py restores the last one to
# /dev/null with both builds alternated, ROUNDS rounds, under the benchmark lock (one lock hold per
# dataset, under 2 minutes); MB/s is wall clock from process start to exit, as run.py measures it.
# The pool is deleted after its dataset.
set -e
here=$(cd "$(dirname "$0")" && pwd)
base=$1 new=$2 data=${3:-/tmp/dvdo-ingest-data} rounds=${4:-8}
work=${WORK:-/tmp/dvdo-s8-restore-work}
mkdir -p "$work"
for ds in images tar random30dup; do
  case $ds in
    images) gens="img-gen1.img img-gen2.img img-gen3.img" ;;
    tar) gens="tar-gen1.tar tar-gen2.tar tar-gen3.tar" ;;
    random30dup) gens="random.bin" ;;
  esac
  pool=$work/pool-$ds
  "$base" format "$pool" --physical-size 8G --logical-size 256G --force >/dev/null
  i=0
  for g in $gens; do i=$((i + 1)); "$base" ingest "$pool" --name gen$i "$data/$g" >/dev/null 2>&1; done
  echo "## $ds: gen$i ($(stat -c %s "$data/$g") bytes), $rounds rounds"
  flock /tmp/dvdo-bench.lock python3 "$here/bench.py" "$pool" gen$i "$rounds" "base=$base" "new=$new"
  rm -f "$pool"
done
