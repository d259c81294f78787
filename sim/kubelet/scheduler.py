"""Binding of unscheduled pods to this node (the kubelet acts as the scheduler).

Contract: bind(pod) assigns a pod without spec.nodeName (and without
deletionTimestamp) to this node through POST pods/<name>/binding, which is how
the real scheduler does it (spec.nodeName is otherwise immutable once the pod
exists). Only if the server does not serve the binding subresource (404 for an
existing pod, 405) does it fall back to a merge patch of spec.nodeName, which
only simulators accept. 409 (already bound elsewhere) is ignored.
"""
import logging

from .client import ApiError, pod_path

log = logging.getLogger("kubelet.scheduler")


async def bind(client, pod: dict, node_name: str) -> bool:
    md = pod["metadata"]
    ns, name = md["namespace"], md["name"]
    body = {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": md.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
    try:
        await client.create(pod_path(ns, name, "binding"), body)
        log.info("bound %s/%s to %s", ns, name, node_name)
        return True
    except ApiError as e:
        if e.code == 409:
            return False
        if e.code not in (404, 405):
            log.warning("binding %s/%s failed: %s", ns, name, e)
            return False
    try:
        await client.merge_patch(pod_path(ns, name), {"metadata": {"uid": md.get("uid")},
                                                       "spec": {"nodeName": node_name}})
        log.info("bound %s/%s to %s (spec.nodeName patch fallback)", ns, name, node_name)
        return True
    except ApiError as e:
        log.warning("binding %s/%s by patch failed: %s", ns, name, e)
        return False
