#!/bin/sh
# phases.sh DVDO POOL NAME [ENV=V ...]: one restore with the instrumented build's timestamps, in ms from launch
B=$1 P=$2 N=$3; shift 3
{ date +'T launch %H:%M:%S.%6N'; env "$@" $B restore $P $N 2>&1 >/dev/null; date +'T exited %H:%M:%S.%6N'; } | python3 -c "
import sys
t0=None; out=[]
for l in sys.stdin:
    p=l.split()
    if p[0]!='T': continue
    h,m,s=p[2].split(':'); t=int(h)*3600+int(m)*60+float(s)
    if p[1]=='launch': t0=t
    out.append(f'{p[1]}={1000*(t-t0):.0f}')
print(' '.join(out[1:]))
"
