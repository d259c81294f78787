"""A Kubernetes API server simulator (kube-apiserver 1.32 semantics) for tests and demos.

Run with ``/usr/bin/python3 -m sim.apiserver --state-dir DIR``; see sim/README.md.
"""
