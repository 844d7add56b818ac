#!/usr/bin/env python3
"""r2rsym.py SCRIPT_TXT BINDIR [T0%] [T1%]: aggregates `perf script --show-mmap-events -F comm,tid,time,ip,sym,dso -G`
samples by thread name and symbol, naming ReadyToRun code from BINDIR/*.ni.r2rmap (published with
-p:PublishReadyToRunEmitSymbols=true). T0/T1: the share of the run's time span to keep."""
import sys, re, bisect, os, collections
path, bindir = sys.argv[1], sys.argv[2]
lo = float(sys.argv[3]) if len(sys.argv) > 3 else 0; hi = float(sys.argv[4]) if len(sys.argv) > 4 else 100
maps = {}
import struct
def sections(dll):
    d = open(dll, "rb").read(4096)
    pe = struct.unpack_from("<I", d, 0x3c)[0]
    n = struct.unpack_from("<H", d, pe + 6)[0]; opt = struct.unpack_from("<H", d, pe + 20)[0]
    out = []
    for i in range(n):
        o = pe + 24 + opt + 40 * i
        vsize, va, rsize, raw = struct.unpack_from("<IIII", d, o + 8)
        out.append((raw, rsize, va))
    return out
secs = {}
def to_rva(dll, off):
    if dll not in secs: secs[dll] = sections(dll)
    for raw, rsize, va in secs[dll]:
        if raw <= off < raw + rsize: return off - raw + va
    return off
def load(dll):
    m = os.path.join(bindir, os.path.basename(dll)[:-4] + ".ni.r2rmap")
    if m in maps: return maps[m]
    rows = []
    if os.path.exists(m):
        for l in open(m):
            p = l.rstrip("\n").split(" ", 2)
            if len(p) == 3 and not p[0].startswith("FFFFFF"):
                rows.append((int(p[0], 16), int(p[1], 16), p[2]))
    rows.sort(); maps[m] = rows; return rows
bases = {}
samples = []
for l in open(path):
    if "PERF_RECORD_MMAP2" in l:
        mm = re.search(r"\[0x([0-9a-f]+)\(0x([0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: \S+ (\S+\.dll)$", l.strip())
        if mm and int(mm.group(3), 16) == 0:
            bases.setdefault(mm.group(4), int(mm.group(1), 16))
        continue
    mm = re.match(r"\s*(.+?)\s+(\d+)\s+([\d.]+):\s+([0-9a-f]+)\s+(.*)\((.*)\)\s*$", l)
    if not mm: continue
    comm, tid, t, ip, sym, dso = mm.groups()
    samples.append((float(t), comm.strip(), int(ip, 16), sym.strip(), dso))
if not samples: sys.exit("no samples")
t0, t1 = samples[0][0], samples[-1][0]
a, b = t0 + (t1 - t0) * lo / 100, t0 + (t1 - t0) * hi / 100
counts = collections.Counter(); comms = collections.Counter(); total = 0
for t, comm, ip, sym, dso in samples:
    if not (a <= t <= b): continue
    total += 1
    comm = re.sub(r"\d+$", "", comm)
    name = sym
    if dso.endswith(".dll") and dso in bases:
        rows = load(dso); rva = to_rva(dso, ip - bases[dso])
        i = bisect.bisect_right(rows, (rva, 1 << 60, "")) - 1
        name = (rows[i][2] if i >= 0 and rva < rows[i][0] + rows[i][1] else f"?{rva:x}") + " [R2R]"
    elif sym in ("[unknown]", ""):
        name = f"[{os.path.basename(dso)}]"
    counts[(comm, name)] += 1; comms[comm] += 1
print(f"{total} samples, {b - a:.3f} s")
for c, n in comms.most_common(): print(f"{100*n/total:6.2f}%  {c}")
for (c, s), n in counts.most_common(int(os.environ.get("TOP", "60"))): print(f"{100*n/total:6.2f}%  {c[:14]:14} {s[:150]}")
