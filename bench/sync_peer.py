#!/usr/bin/python3
"""The peer of the cache-sync benchmark (issue 16): the Kubernetes Python client (Debian's python3-kubernetes) making
the lists an informer makes, pods and MediVoteServices at resourceVersion=0, then watching them.

Modes:
* typed: CoreV1Api.list_pod_for_all_namespaces (every pod deserialized into the client's model classes, as client-go's
  typed informers decode into structs) and CustomObjectsApi for the MediVoteServices (plain dicts);
* raw: the same requests with _preload_content=False and json.loads of the bodies (dicts, no models: the lightest a
  Python client gets, a stand-in for client-go's metadata-only informers, which still decode whole objects' metadata).

Prints one JSON line once both lists are in memory ({"mode", "pods", "mvs", "wallSeconds", "cpuSeconds", VmHWM and
RssAnon in kB}), then watches both collections (a thread each) until killed, holding what it listed.
"""
import argparse
import json
import os
import sys
import threading
import time


def proc_status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--mode", choices=("typed", "raw"), default="typed")
    opts = ap.parse_args()
    start_wall = time.monotonic()
    from kubernetes import client, config, watch  # the import is part of the peer's start-up, as exec is the operator's

    config.load_kube_config(opts.kubeconfig)
    core, custom = client.CoreV1Api(), client.CustomObjectsApi()
    selector = "app.kubernetes.io/managed-by=medivote-operator"
    group = ("medivote.io", "v1alpha1", "medivoteservices")
    if opts.mode == "typed":
        pods = core.list_pod_for_all_namespaces(resource_version="0", label_selector=selector, limit=500)
        mvs = custom.list_cluster_custom_object(*group, resource_version="0", limit=500)
        counts = (len(pods.items), len(mvs["items"]))
    else:
        r = core.list_pod_for_all_namespaces(resource_version="0", label_selector=selector, limit=500,
                                             _preload_content=False)
        pods = json.loads(r.data)
        r = custom.list_cluster_custom_object(*group, resource_version="0", limit=500, _preload_content=False)
        mvs = json.loads(r.data)
        counts = (len(pods["items"]), len(mvs["items"]))
    wall = time.monotonic() - start_wall
    cpu = time.process_time()
    print(json.dumps({"mode": opts.mode, "pods": counts[0], "mvs": counts[1], "wallSeconds": round(wall, 3),
                      "cpuSeconds": round(cpu, 3), **proc_status()}), flush=True)

    def watching(fn, *args, **kw):
        w = watch.Watch()
        while True:
            for _ in w.stream(fn, *args, **kw, timeout_seconds=600, allow_watch_bookmarks=True):
                pass

    rv = "7000000"
    threading.Thread(target=watching, args=(core.list_pod_for_all_namespaces,),
                     kwargs={"resource_version": rv, "label_selector": selector}, daemon=True).start()
    threading.Thread(target=watching, args=(custom.list_cluster_custom_object, *group),
                     kwargs={"resource_version": rv}, daemon=True).start()
    keep = (pods, mvs)  # noqa: F841  the cache, held while watching
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
