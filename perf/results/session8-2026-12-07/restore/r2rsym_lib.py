_maps = {}; _secs = {}
def _sections(dll):
    d = open(dll, "rb").read(4096)
    pe = struct.unpack_from("<I", d, 0x3c)[0]
    n = struct.unpack_from("<H", d, pe + 6)[0]; opt = struct.unpack_from("<H", d, pe + 20)[0]
    return [struct.unpack_from("<IIII", d, pe + 24 + opt + 40 * i + 8)[1:4] for i in range(n)]
def lookup(dll, off, bindir):
    if dll not in _secs: _secs[dll] = _sections(dll)
    rva = off
    for va, rsize, raw in _secs[dll]:
        if raw <= off < raw + rsize: rva = off - raw + va
    m = os.path.join(bindir, os.path.basename(dll)[:-4] + ".ni.r2rmap")
    if m not in _maps:
        rows = []
        if os.path.exists(m):
            for l in open(m):
                p = l.rstrip("\n").split(" ", 2)
                if len(p) == 3 and not p[0].startswith("FFFFFF"): rows.append((int(p[0], 16), int(p[1], 16), p[2]))
        rows.sort(); _maps[m] = rows
    rows = _maps[m]
    i = bisect.bisect_right(rows, (rva, 1 << 60, "")) - 1
    return (rows[i][2] if i >= 0 and rva < rows[i][0] + rows[i][1] else f"{os.path.basename(dll)}?{rva:x}") + " [R2R]"
