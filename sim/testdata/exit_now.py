#!/usr/bin/python3
"""Test workload: appends "run <time>" to $EVENTS_FILE (if set) and exits at once with argv[1] (default 0)."""
import os
import sys
import time

if os.environ.get("EVENTS_FILE"):
    with open(os.environ["EVENTS_FILE"], "a") as f:
        f.write(f"run {time.time():.6f} {os.getpid()}\n")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
