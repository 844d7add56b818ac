#!/bin/sh
# Builds the datasets (once) and runs the side-by-side comparison under the benchmark lock.
# usage: perf/ingest/run.sh [DATA_DIR] [run.py options]   (2 vCPU: about 10 minutes)
set -e
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-/tmp/dvdo-ingest-data}
[ $# -gt 0 ] && shift
dotnet build "$here/../../Cli" -c Release -v q >/dev/null
python3 "$here/datasets.py" "$data" >/dev/null
exec flock /tmp/dvdo-bench.lock python3 "$here/run.py" "$data" "$@"
