#!/usr/bin/env python3
"""Side by side: dvdo ingest (hybrid, cdc, fixed), borg (-C lz4), restic, lz4 and zstd on the datasets of
datasets.py. Each tool stores the three generations of a dataset one after the other in a fresh
repository (pool); per dataset it reports input MB/s (all generations, wall clock), CPU seconds
(user + system), peak RSS, stored bytes after the last generation and the saving against the input,
and the restore MB/s of the last generation, run twice (the second, warm, is reported).
Run it under `flock /tmp/dvdo-bench.lock` (perf/ingest/run.sh does)."""
import argparse, json, os, shutil, subprocess, sys, time

def run(cmd, stdin=None, stdout=None, env=None):
    """Runs cmd; returns (wall s, cpu s, peak RSS MiB)."""
    start = time.monotonic()
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as i, open(stdout or os.devnull, "wb") as o:
        p = subprocess.Popen(cmd, stdin=i, stdout=o, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024

def du(path):
    total = 0
    for d, _, fs in os.walk(path):
        for f in fs:
            total += os.lstat(os.path.join(d, f)).st_blocks * 512
    return total if os.path.isdir(path) else os.lstat(path).st_blocks * 512

class Dvdo:
    def __init__(self, dvdo, align, prefix=""): self.dvdo, self.align, self.name = dvdo, align, f"{prefix}dvdo-{align}"
    def init(self, work):
        self.pool = os.path.join(work, "pool")
        subprocess.run(self.dvdo + ["format", self.pool, "--physical-size", "8G", "--logical-size", "256G", "--force"], check=True, capture_output=True)
    def store(self, gen, path): return run(self.dvdo + ["ingest", self.pool, "--name", gen, "--align", self.align, path])
    def stored(self):
        s = json.loads(subprocess.run(self.dvdo + ["stats", self.pool, "--json"], check=True, capture_output=True).stdout)
        return (s["dataBlocksUsed"] + s["blockMapPages"]) * 4096
    def restore(self, gen, out): return run(self.dvdo + ["restore", self.pool, gen], stdout=out)

class Borg:
    name = "borg-lz4"
    env = {"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}
    def init(self, work):
        self.repo = os.path.join(work, "repo")
        self.cache = os.path.join(work, "cache")
        self.env = {**Borg.env, "BORG_CACHE_DIR": self.cache, "BORG_BASE_DIR": work}
        subprocess.run(["borg", "init", "-e", "none", self.repo], check=True, capture_output=True, env={**os.environ, **self.env})
    def store(self, gen, path): return run(["borg", "create", "-C", "lz4", f"{self.repo}::{gen}", "-"], stdin=path, env=self.env)
    def stored(self): return du(self.repo)
    def restore(self, gen, out): return run(["borg", "extract", "--stdout", f"{self.repo}::{gen}"], stdout=out, env=self.env)

class Restic:
    name = "restic"
    def init(self, work):
        self.repo = os.path.join(work, "repo")
        self.env = {"RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": self.repo, "RESTIC_CACHE_DIR": os.path.join(work, "cache")}
        subprocess.run(["restic", "init", "--repository-version", "2"], check=True, capture_output=True, env={**os.environ, **self.env})
    def store(self, gen, path): return run(["restic", "backup", "--stdin", "--stdin-filename", gen, "--host", "bench"], stdin=path, env=self.env)
    def stored(self): return du(self.repo)
    def restore(self, gen, out): return run(["restic", "dump", "latest", gen], stdout=out, env=self.env)

class Compressor:
    def __init__(self, name, cmd, decompress): self.name, self.cmd, self.decompress = name, cmd, decompress
    def init(self, work): self.work, self.files = work, {}
    def store(self, gen, path):
        out = os.path.join(self.work, gen)
        self.files[gen] = out
        return run(self.cmd, stdin=path, stdout=out)
    def stored(self): return sum(du(f) for f in self.files.values())
    def restore(self, gen, out): return run(self.decompress, stdin=self.files[gen], stdout=out)

DATASETS = {
    "images": ["img-gen1.img", "img-gen2.img", "img-gen3.img"],
    "tar": ["tar-gen1.tar", "tar-gen2.tar", "tar-gen3.tar"],
    "random30dup": ["random.bin"],
}

def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--work", default="/tmp/dvdo-ingest-work")
    p.add_argument("--dvdo", default=os.path.join(os.path.dirname(__file__), "../../Cli/bin/Release/net10.0/dvdo"))
    p.add_argument("--build", action="append", default=[], metavar="LABEL=DVDO",
                   help="another dvdo build, run as LABEL-dvdo-hybrid, LABEL-dvdo-cdc, LABEL-dvdo-fixed (same-run ratios; repeatable)")
    p.add_argument("--tools", default="dvdo-hybrid,dvdo-cdc,dvdo-fixed,borg-lz4,restic,lz4,zstd")
    p.add_argument("--datasets", default="images,tar,random30dup")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    dvdo = [os.path.abspath(a.dvdo)]
    tools = {t.name: t for t in [Dvdo(dvdo, "hybrid"), Dvdo(dvdo, "cdc"), Dvdo(dvdo, "fixed"), Borg(), Restic(),
             Compressor("lz4", ["lz4", "-1", "-c"], ["lz4", "-d", "-c"]),
             Compressor("zstd", ["zstd", "-3", "-T0", "-c"], ["zstd", "-d", "-c"])]}
    for build in a.build:
        label, path = build.split("=", 1)
        tools.update({t.name: t for t in [Dvdo([os.path.abspath(path)], align, f"{label}-") for align in ("hybrid", "cdc", "fixed")]})
    results = []
    print("| dataset | tool | input MB/s | CPU s | peak RSS MiB | stored MB | saved | restore MB/s (warm) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for ds in a.datasets.split(","):
        inputs = [os.path.join(a.data, f) for f in DATASETS[ds]]
        total = sum(os.path.getsize(f) for f in inputs)
        for name in a.tools.split(","):
            tool = tools[name]
            shutil.rmtree(a.work, ignore_errors=True)
            os.makedirs(a.work)
            tool.init(a.work)
            wall = cpu = rss = 0.0
            for i, f in enumerate(inputs):
                w, c, r = tool.store(f"gen{i+1}", f)
                wall, cpu, rss = wall + w, cpu + c, max(rss, r)
            stored = tool.stored()
            last = f"gen{len(inputs)}"
            tool.restore(last, None)
            rw, _, _ = tool.restore(last, None)
            row = {"dataset": ds, "tool": name, "inputBytes": total, "inputMBps": total / wall / 1e6, "cpuSeconds": cpu,
                   "peakRssMiB": rss, "storedBytes": stored, "savedPercent": 100 * (1 - stored / total),
                   "restoreMBps": os.path.getsize(inputs[-1]) / rw / 1e6}
            results.append(row)
            print(f"| {ds} | {name} | {row['inputMBps']:.0f} | {cpu:.1f} | {rss:.0f} | {stored/1e6:.0f} | {row['savedPercent']:.1f}% | {row['restoreMBps']:.0f} |", flush=True)
    shutil.rmtree(a.work, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)

if __name__ == "__main__":
    main()
