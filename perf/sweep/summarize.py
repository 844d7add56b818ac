#!/usr/bin/env python3
"""Summarizes a perf/sweep/sweep.sh directory as Markdown tables (one per workload).

Each row is one `dvdo bench` run (one cell of the matrix): every scheme side by side, then the
ratios StructureLocking / MessagePassing and, for multi-block requests, Batched / StructureLocking.
"""
import json
import pathlib
import re
import sys

def load(directory):
    cells = []
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        m = re.match(r"(?P<wl>[a-z0-9]+)-z(?P<z>\d+)-w(?P<w>\d+)(-rb(?P<rb>\d+))?$", path.stem)
        if not m:
            continue
        report = json.loads(path.read_text())
        results = {r["scheme"]: r for r in report["results"]}
        cells.append((m["wl"], int(m["rb"] or 1), int(m["z"]), int(m["w"]), report, results))
    return cells

def fmt(x, digits=0):
    return f"{x:,.{digits}f}"

def main(directory):
    cells = load(directory)
    order = ["unique", "dup", "compressible", "zero", "read", "mixed"]
    groups = sorted({(wl, rb) for wl, rb, *_ in cells}, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
    for wl, rb in groups:
        rows = sorted((c for c in cells if c[0] == wl and c[1] == rb), key=lambda c: (c[3], c[2]))
        schemes = [s for s in ["Inline", "MessagePassing", "StructureLocking", "Batched"] if any(s in c[5] for c in rows)]
        title = f"### {wl}" + (f", {rb}-block requests" if rb > 1 else "")
        print(title)
        print()
        head = ["workers", "zones", "ceiling MB/s"] + [f"{s} MB/s" for s in schemes] + ["SL/MP", "SL/Inline"]
        if "Batched" in schemes:
            head.append("Batched/SL")
        head += ["MP handoffs/w", "SL locks/w", "SL contended", "MP p99 µs", "SL p99 µs", "MP CPU s/GB", "SL CPU s/GB"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for _, _, z, w, report, r in rows:
            mp, sl, il = r.get("MessagePassing"), r.get("StructureLocking"), r.get("Inline")
            line = [str(w), str(z), fmt(report["computeCeilingMBps"])]
            line += [fmt(r[s]["MBps"]) if s in r else "" for s in schemes]
            line.append(f"{sl['MBps'] / mp['MBps']:.2f}×" if mp and sl and mp["MBps"] > 0 else "")
            line.append(f"{sl['MBps'] / il['MBps']:.2f}×" if il and sl and il["MBps"] > 0 else "")
            if "Batched" in schemes:
                b = r.get("Batched")
                line.append(f"{b['MBps'] / sl['MBps']:.2f}×" if b and sl and sl["MBps"] > 0 else "")
            line += [fmt(mp["handoffsPerWrite"], 1) if mp else "", fmt(sl["locksPerWrite"], 1) if sl else "",
                     f"{sl['contendedPercent']:.1f}%" if sl else "",
                     fmt(mp["p99us"]) if mp else "", fmt(sl["p99us"]) if sl else "",
                     fmt(mp["cpuSecPerGB"], 2) if mp else "", fmt(sl["cpuSecPerGB"], 2) if sl else ""]
            print("| " + " | ".join(line) + " |")
        print()

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
