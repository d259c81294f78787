#!/usr/bin/python3
"""Test workload: PVC check. Usage: pvc_writer.py DIR TEXT

Prints what DIR/state.txt held before (or "<none>"), then appends TEXT to it,
then sleeps until SIGTERM (exit 0). DIR is relative to the container's rootfs
(its cwd), i.e. the volume's mountPath without the leading "/".
"""
import os
import signal
import sys
import time

d, text = sys.argv[1], sys.argv[2]
path = os.path.join(d, "state.txt")
before = open(path).read() if os.path.exists(path) else "<none>"
print("before:", before.replace("\n", "|"), flush=True)
with open(path, "a") as f:
    f.write(text + "\n")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(1)
