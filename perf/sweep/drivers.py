# Summarizes perf/sweep/drivers.sh output: one line per build, scheme and variant, the repetitions side by side.
import json,sys,collections
rows=collections.defaultdict(list)
for l in open(sys.argv[1]):
    try: d=json.loads(l)
    except: continue
    rows[(d['build'],d['scheme'],d['variant'])].append(d)
for k in sorted(rows):
    v=rows[k]
    f=lambda key: '/'.join(str(x[key]) for x in v)
    print(f"{k[0]:4} {k[1][:16]:16} {k[2]:11} MB/s {f('MBps'):16} p99.9 {f('p999ms'):18} p99 {f('p99ms'):16} hand {f('hand'):15} locks {f('locks'):15} B/w {f('Bw'):12} cpu/GB {f('cpuGB'):16} ceil {f('ceiling')}")
