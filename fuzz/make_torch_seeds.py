#!/usr/bin/python3
"""Writes fuzz/seeds/torch/ for torch_checkpoint_fuzzer from the committed fixtures (native/tests/data/torch): each
file whole (first byte 0) and its data.pkl alone (first byte 1, wrapped by the fuzzer), with storage keys renamed to
the fuzzer's "0".."3" where they exist. No torch needed."""
import os
import zipfile

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
src = os.path.join(root, 'native', 'tests', 'data', 'torch')
out = os.path.join(root, 'fuzz', 'seeds', 'torch')
os.makedirs(out, exist_ok=True)
for dirpath, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith('.bin'):
            continue
        path = os.path.join(dirpath, f)
        name = os.path.relpath(path, src).replace('/', '-')[:-4]
        data = open(path, 'rb').read()
        open(os.path.join(out, 'file-' + name), 'wb').write(b'\0' + data)
        try:
            z = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            continue
        pkl = [n for n in z.namelist() if n.endswith('/data.pkl')]
        if pkl:
            open(os.path.join(out, 'pickle-' + name), 'wb').write(b'\1' + z.read(pkl[0]))
print(len(os.listdir(out)), 'seeds in', out)
