#!/bin/bash
# prof.sh NAME DLL [extra mount args]: mount a fresh pool with DLL (Inline), fio 4K randwrite qd32 20 s,
# perf record the mount for 10 s in the middle; write NAME.report + fio summary.
set -u
name=$1 dll=$2; shift 2
w=/tmp/prof-$name; mkdir -p $w/mnt; rm -f $w/pool
dotnet $dll format $w/pool --physical-size 12G --logical-size 64G --image vol=6G >/dev/null
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet $dll mount $w/pool $w/mnt --set Pipeline:Scheme=${SCHEME:-Inline} "$@" 2>$w/mount.log &
mp=$!
for _ in $(seq 100); do [ -e $w/mnt/vol ] && break; sleep 0.1; done
t0=$(awk '{print $14+$15}' /proc/$mp/stat)
cs() { cat /proc/$mp/task/*/status 2>/dev/null | awk '/^voluntary_ctxt/ {v+=$2} /^nonvoluntary_ctxt/ {n+=$2} END {print v, n}'; }
c0=$(cs)
fio --name=j --filename=$w/mnt/vol --direct=1 --refill_buffers --buffer_compress_percentage=${COMP:-50} --runtime=20 --time_based --group_reporting --output-format=json --randseed=1001 ${FIOJOB:---rw=randwrite --bs=4k --ioengine=libaio --iodepth=32 --size=2G} > $w/fio.json &
fp=$!
sleep 6; [ "${PERF:-1}" = 0 ] && sleep 10
[ "${PERF:-1}" = stat ] && perf stat --per-thread -e sched:sched_wakeup,sched:sched_switch,syscalls:sys_enter_futex,syscalls:sys_enter_pwrite64,syscalls:sys_enter_pwritev,syscalls:sys_enter_fdatasync,syscalls:sys_enter_writev,syscalls:sys_enter_read -p $mp -o /work/notes/s8/prof/$name.stat -- sleep 10 2>/dev/null >/dev/null
[ "${PERF:-1}" = 1 ] && perf record ${PERFARGS:--F 999 -g} -p $mp -o $w/perf.data -- sleep 10 2>/dev/null >/dev/null
wait $fp
t1=$(awk '{print $14+$15}' /proc/$mp/stat)
c1=$(cs)
for t in /proc/$mp/task/*; do echo "$(cat $t/comm) $(awk '/^voluntary_ctxt/ {v=$2} /^nonvoluntary_ctxt/ {n=$2} END {print v, n}' $t/status)"; done | awk '{v[$1]+=$2; n[$1]+=$3} END {for (k in v) print k, v[k], n[k]}' > /work/notes/s8/prof/$name.threads
fusermount3 -u $w/mnt; wait $mp; [ "${PERF:-1}" = 1 ] || rm -f $w/pool
python3 - $w/fio.json $t0 $t1 $c0 $c1 <<'PY' > /work/notes/s8/prof/$name.fio
import json,sys
t=open(sys.argv[1]).read(); j=json.loads(t[t.index('{'):])['jobs'][0]['write']
ios=j['total_ios']; cpu=(int(sys.argv[3])-int(sys.argv[2]))/100
cs=(int(sys.argv[6])-int(sys.argv[4]), int(sys.argv[7])-int(sys.argv[5]))
print(f"ctxsw/IO vol {cs[0]/ios:.2f} invol {cs[1]/ios:.2f}", end=" ")
print(f"IOPS {j['iops']:.0f} ios {ios} mountcpu {cpu:.1f}s = {cpu/ios*1e6:.2f} us/IO p99.9 {j['clat_ns']['percentile']['99.900000']/1e6:.2f} ms")
PY
[ "${PERF:-1}" = 1 ] && perf report -i $w/perf.data --no-children --sort symbol -g none 2>/dev/null | grep -v "^#" | grep -v "^$" > /work/notes/s8/prof/$name.report
cat /work/notes/s8/prof/$name.fio
rm -f $w/pool $w/perf.data.old
