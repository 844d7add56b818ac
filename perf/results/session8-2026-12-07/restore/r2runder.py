#!/usr/bin/env python3
"""r2runder.py BINDIR UNDER FILE...: for samples whose chain includes a frame matching UNDER, inclusive share of
every frame called below it (R2R named via r2rmap)."""
import sys, re, os, bisect, struct, collections
bindir, under = sys.argv[1], sys.argv[2]
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "r2rsym_lib.py")).read())
inc = collections.Counter(); total = 0; hit = 0
for path in sys.argv[3:]:
    bases = {}; frames = None
    def flush():
        global total, hit
        if frames is None: return
        total += 1
        names = []
        for ip, sym, dso in frames:
            if dso.endswith(".dll") and dso in bases and "/dotnet/shared/" not in dso:
                names.append(lookup(dso, ip if ip < bases[dso] else ip - bases[dso], bindir))
            elif sym in ("[unknown]", ""):
                names.append(f"[{os.path.basename(dso)}]")
            else:
                names.append(sym)
        idx = next((i for i, n in enumerate(names) if under in n), None)
        if idx is None: return
        hit += 1
        for n in set(names[:idx]): inc[n] += 1
    for l in open(path):
        if "PERF_RECORD_MMAP2" in l:
            mm = re.search(r"\[0x([0-9a-f]+)\(0x([0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: \S+ (\S+\.dll)$", l.strip())
            if mm and int(mm.group(3), 16) == 0: bases.setdefault(mm.group(4), int(mm.group(1), 16))
            continue
        h = re.match(r"^(\S.*?)\s+(\d+)\s+([\d.]+):\s*$", l.rstrip())
        if h: flush(); frames = []; continue
        f = re.match(r"^\s+([0-9a-f]+)\s+(.*)\((.*)\)\s*$", l)
        if f and frames is not None: frames.append((int(f.group(1), 16), f.group(2).strip(), f.group(3)))
    flush()
print(f"{hit} of {total} samples under {under}")
for n, c in inc.most_common(int(os.environ.get("TOP", "40"))): print(f"{100*c/hit:6.2f}%  {n[:180]}")
