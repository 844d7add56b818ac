#!/usr/bin/env python3
"""r2rinc.py BINDIR FILE...: inclusive sample share per managed frame (R2R via r2rmap, JIT via perf map)
from `perf script --show-mmap-events -F comm,tid,time,ip,sym,dso` (with call chains). MATCH env: substring filter."""
import sys, re, os, bisect, struct, collections
bindir = sys.argv[1]
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "r2rsym_lib.py")).read())
match = os.environ.get("MATCH", "DataflowVdo")
comm_only = os.environ.get("COMM")
inc = collections.Counter(); total = 0
for path in sys.argv[2:]:
    bases = {}
    frames = None; comm = None
    def flush():
        global total
        if frames is None: return
        if comm_only and not comm.startswith(comm_only): return
        total += 1
        seen = set()
        for ip, sym, dso in frames:
            name = sym
            if dso.endswith(".dll") and dso in bases and "/dotnet/shared/" not in dso:
                name = lookup(dso, ip if ip < bases[dso] else ip - bases[dso], bindir)
            if match in name and name not in seen:
                seen.add(name); inc[name] += 1
    for l in open(path):
        if "PERF_RECORD_MMAP2" in l:
            mm = re.search(r"\[0x([0-9a-f]+)\(0x([0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: \S+ (\S+\.dll)$", l.strip())
            if mm and int(mm.group(3), 16) == 0: bases.setdefault(mm.group(4), int(mm.group(1), 16))
            continue
        h = re.match(r"^(\S.*?)\s+(\d+)\s+([\d.]+):\s*$", l.rstrip())
        if h:
            flush(); frames = []; comm = h.group(1).strip(); continue
        f = re.match(r"^\s+([0-9a-f]+)\s+(.*)\((.*)\)\s*$", l)
        if f and frames is not None:
            frames.append((int(f.group(1), 16), f.group(2).strip(), f.group(3)))
    flush()
print(f"{total} samples")
for n, c in inc.most_common(int(os.environ.get("TOP", "60"))): print(f"{100*c/total:6.2f}%  {n[:200]}")
