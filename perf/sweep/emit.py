#!/usr/bin/env python3
"""One JSON line per scheme result of a `dvdo bench --json` file (perf/sweep/drivers.sh, builds.sh).

Usage: emit.py BENCH_JSON REP WORKLOAD BUILD VARIANT
Fields an older build does not report are 0.
"""
import json
import sys

path, rep, wl, build, variant = sys.argv[1:]
d = json.load(open(path))
for r in d['results']:
    g = lambda k: r.get(k, 0) or 0
    print(json.dumps({'rep': int(rep), 'wl': wl, 'build': build, 'scheme': r['scheme'], 'variant': variant,
        'MBps': round(g('MBps')), 'p50us': round(g('p50us')), 'p99ms': round(g('p99us') / 1000, 2), 'p999ms': round(g('p999us') / 1000, 2),
        'hand': round(g('handoffsPerWrite'), 2), 'locks': round(g('locksPerWrite'), 2), 'Bw': round(g('allocBytesPerWrite')),
        'cpuGB': round(g('cpuSecPerGB'), 2), 'ceiling': round(d.get('computeCeilingMBps', 0))}))
