#!/bin/sh
# Builds the datasets (once) and runs the side-by-side comparison under the benchmark lock.
# usage: perf/ingest/run.sh [DATA_DIR] [run.py options]   (2 vCPU: about 10 minutes)
# dvdo is published as a user would install it (ReadyToRun for this machine's runtime identifier)
# into $DVDO_OUT (default /tmp/dvdo-ingest-bin); --build LABEL=DVDO adds another build to the run.
set -e
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-/tmp/dvdo-ingest-data}
[ $# -gt 0 ] && shift
out=${DVDO_OUT:-/tmp/dvdo-ingest-bin}
case $(uname -m) in aarch64) rid=linux-arm64 ;; *) rid=linux-x64 ;; esac
dotnet publish "$here/../../Cli" -c Release -r "$rid" --self-contained false -o "$out" -v q >/dev/null
python3 "$here/datasets.py" "$data" >/dev/null
exec flock /tmp/dvdo-bench.lock python3 "$here/run.py" "$data" --dvdo "$out/dvdo" "$@"
