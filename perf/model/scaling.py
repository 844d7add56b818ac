#!/usr/bin/env python3
"""A scaling model for the three schemes, fitted to one `dvdo bench --scheme all --json` run.

PREDICTION, not measurement: this machine has 2 cores. Usage:
    python3 perf/model/scaling.py BENCH.json [--cores 2,4,8,16]

From the run, per scheme:
  c  = CPU seconds per write (cpuSecPerGB x 4 KiB),
  s  = time per write inside the steps (sum over blocks of busy time / writes),
  o  = c - s, the coordination cost per write (handoffs, thread wake-ups, lock handovers),
  zb = per single-consumer executor, its busy time per write (a zone block, a zone lock; under
       Inline every zone is behind one lock, so their times add up).
Prediction at N cores: X(N) = min(N / c, min over executors of zones_N / zb), with
  - the CPU limit N / c: every core busy, c constant in N (no more coordination per write as cores
    are added: optimistic for lock contention, pessimistic for message passing, whose idle blocks
    park and wake less when busier);
  - the executor limit: an executor cannot run faster than one core; zones of a kind split its
    work evenly when the configuration gives that kind zones_N zones (`--zones fixed`: 1, as
    shipped; `--zones scaled`: N / 2 each; the packer and the journal stay at 1, as in dm-vdo);
  - calibrated: the model's 2-core figure is scaled to the measured one (the ratio is printed),
    and the same factor is applied at every N.
"""
import argparse, json

ZONED = ("logical", "hashzone", "physical")
SINGLE = ("packer", "journal")


def model(r, cores, scaled):
    ops, secs = r["operations"], r["seconds"]
    c = r["cpuSecPerGB"] * 4096 / 1e9
    busy = {b["block"]: b["busyPercent"] / 100 * secs / ops for b in r["blocks"]}
    steps = sum(busy.values())
    kinds = {}
    for name, t in busy.items():
        kind = name.rstrip("0123456789")
        if kind in ZONED or kind in SINGLE:
            kinds[kind] = kinds.get(kind, 0) + t
    out = []
    for n in cores:
        zones = max(1, n // 2) if scaled else 1
        limits = {"cpu": n / c}
        if r["scheme"] == "Inline":
            limits["volume lock"] = 1 / sum(kinds.values()) if kinds else float("inf")
        else:
            for kind, t in kinds.items():
                k = zones if kind in ZONED else 1
                limits[kind] = k / t if t > 0 else float("inf")
        bound = min(limits, key=limits.get)
        out.append((n, limits[bound], bound))
    return c, steps, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--cores", default="2,4,8,16")
    ap.add_argument("--zones", choices=["fixed", "scaled"], default="scaled")
    a = ap.parse_args()
    d = json.load(open(a.bench))
    cores = [int(x) for x in a.cores.split(",")]
    print(f"PREDICTION from {a.bench}: {d['workload']}, queue depth {d['queueDepth']}, measured on {d['cores']} cores; zones {a.zones}")
    print(f"{'scheme':18} {'CPU µs/write':>12} {'in steps':>9} {'coordination':>12} {'measured MB/s':>13} {'calib':>6}  " + "  ".join(f"{n:>3} cores (limit)" for n in cores))
    for r in d["results"]:
        c, steps, out = model(r, cores, a.zones == "scaled")
        two = model(r, [d["cores"]], a.zones == "scaled")[2][0][1]  # the model at the measured core count
        calib = r["iops"] / two
        cells = "  ".join(f"{x * calib * 4096 / 1e6:>6.0f} MB/s ({b:>8})" for n, x, b in out)
        print(f"{r['scheme']:18} {c * 1e6:>12.1f} {steps * 1e6:>9.1f} {(c - steps) * 1e6:>12.1f} {r['MBps']:>13.0f} {calib:>6.2f}  {cells}")


if __name__ == "__main__":
    main()
