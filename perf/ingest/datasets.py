#!/usr/bin/env python3
"""Builds the backup-ingest datasets deterministically (same bytes on every run on this machine).

  tree-gen{1,2,3}/   a real directory tree (the first files of /usr/share and /usr/lib in sorted
                     order, up to --tree-mb), then two generations of edits: 5% of the files get
                     bytes inserted, deleted or appended, 1% are deleted, 1% are added
  tar-gen{1,2,3}.tar the three trees as tar streams (sorted, mtime 0, uid/gid 0)
  img-gen{1,2,3}.img the three trees as ext4 images (fixed UUID and hash seed)
  random.bin         random 4 KiB blocks, 30% of them copies of earlier blocks
"""
import argparse, os, random, shutil, subprocess, sys

def source_files(limit):
    picked, total = [], 0
    for root in ("/usr/share", "/usr/lib"):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if not os.path.isfile(path) or os.path.islink(path):
                    continue
                size = os.path.getsize(path)
                if total + size > limit:
                    return picked
                picked.append(path)
                total += size
    return picked

def copy_tree(files, dest):
    for src in files:
        target = os.path.join(dest, src.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(src, target)

def edit_generation(src, dest, seed):
    shutil.copytree(src, dest, symlinks=True)
    rng = random.Random(seed)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs)
    for path in files:
        r = rng.random()
        if r < 0.01:
            os.remove(path)
        elif r < 0.06:
            with open(path, "rb") as f:
                data = f.read()
            at = rng.randrange(len(data) + 1)
            kind = rng.randrange(3)
            if kind == 0:    # insertion
                data = data[:at] + rng.randbytes(rng.randrange(1, 2000)) + data[at:]
            elif kind == 1:  # deletion
                data = data[:at] + data[at + rng.randrange(1, 2000):]
            else:            # append
                data = data + rng.randbytes(rng.randrange(1, 8000))
            with open(path, "wb") as f:
                f.write(data)
    added = [p for p in files if os.path.exists(p)]
    for i in range(max(1, len(files) // 100)):
        base = added[rng.randrange(len(added))]
        with open(f"{base}.new{seed}-{i}", "wb") as f:
            f.write(rng.randbytes(rng.randrange(100, 50000)))

def tar(tree, out):
    subprocess.run(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                    "-cf", out, "-C", tree, "."], check=True)

def ext4(tree, out, mb):
    if os.path.exists(out):
        os.remove(out)
    uuid = "2026120f-0000-4000-8000-000000000020"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-U", uuid, "-E", f"hash_seed={uuid},root_owner=0:0",
                    "-b", "4096", "-d", tree, out, f"{mb}M"], check=True,
                   env={**os.environ, "E2FSPROGS_FAKE_TIME": "0", "SOURCE_DATE_EPOCH": "0"})

def random_blocks(out, mb, seed):
    rng = random.Random(seed)
    blocks = mb * 256
    written = []
    with open(out, "wb") as f:
        for i in range(blocks):
            if written and rng.random() < 0.30:
                f.write(written[rng.randrange(len(written))])
            else:
                b = rng.randbytes(4096)
                written.append(b)
                f.write(b)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--tree-mb", type=int, default=300)
    p.add_argument("--random-mb", type=int, default=512)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    os.chdir(a.dir)
    if not os.path.exists("tree-gen1"):
        copy_tree(source_files(a.tree_mb << 20), "tree-gen1")
    for g in (2, 3):
        if not os.path.exists(f"tree-gen{g}"):
            edit_generation(f"tree-gen{g-1}", f"tree-gen{g}", seed=20 + g)
    image_mb = int(a.tree_mb * 1.5) + 64
    for g in (1, 2, 3):
        if not os.path.exists(f"tar-gen{g}.tar"):
            tar(f"tree-gen{g}", f"tar-gen{g}.tar")
        if not os.path.exists(f"img-gen{g}.img"):
            ext4(f"tree-gen{g}", f"img-gen{g}.img", image_mb)
    if not os.path.exists("random.bin"):
        random_blocks("random.bin", a.random_mb, seed=30)
    for name in sorted(os.listdir(".")):
        if os.path.isfile(name):
            print(f"{name}\t{os.path.getsize(name)}")

if __name__ == "__main__":
    sys.exit(main())
