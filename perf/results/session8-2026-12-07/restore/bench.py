#!/usr/bin/env python3
"""Alternated restore timings through the CLI: for each round, every variant restores NAME from POOL
to /dev/null (as perf/ingest/run.py does); reports wall MB/s (process start to exit, as run.py) per
run and the median per variant, and each variant's median ratio to the first.
usage: bench.py POOL NAME ROUNDS LABEL=CMD [LABEL=CMD ...]   (CMD: a dvdo path, optionally 'ENV=V ... path')
Run it under `flock /tmp/dvdo-bench.lock`; keep a run under 2 minutes."""
import os, subprocess, sys, time, statistics, shlex, json

pool, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
variants = []
for v in sys.argv[4:]:
    label, cmd = v.split("=", 1)
    parts = shlex.split(cmd)
    env = dict(p.split("=", 1) for p in parts[:-1])
    variants.append((label, env, parts[-1]))
size = None
times = {label: [] for label, _, _ in variants}
for r in range(rounds):
    order = variants if r % 2 == 0 else list(reversed(variants))
    for label, env, dvdo in order:
        start = time.monotonic()
        with open(os.devnull, "wb") as out:
            p = subprocess.run([dvdo, "restore", pool, name], stdout=out, stderr=subprocess.PIPE, env={**os.environ, **env})
        wall = time.monotonic() - start
        if p.returncode != 0:
            sys.exit(f"{label} failed: {p.stderr.decode()}")
        size = int(p.stderr.decode().split(":")[1].split()[0])
        times[label].append(wall)
first = statistics.median(times[variants[0][0]])
for label, _, _ in variants:
    t = times[label]
    m = statistics.median(t)
    print(f"{label:>12}: median {size/m/1e6:5.0f} MB/s wall ({m:.3f} s), runs " + " ".join(f"{size/x/1e6:.0f}" for x in t) + f"  ratio to {variants[0][0]} {first/m:.2f}")
print(json.dumps({"pool": pool, "name": name, "bytes": size, "wall": times}))
