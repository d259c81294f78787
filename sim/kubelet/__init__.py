"""Kubelet simulator: runs the pods bound to one Node as local processes.

It talks to the API server only through the public Kubernetes REST API, so it
works against the API server simulator (sim/apiserver) and a real
kube-apiserver alike. See README.md in this folder.
"""
