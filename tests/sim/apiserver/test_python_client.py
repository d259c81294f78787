"""The official Python client (Debian python3-kubernetes 22.6.0, scripts/debian-packages.txt) against the simulator:
list, watch with bookmarks, resume a watch from a resourceVersion. It sends `watch=True` and
`allowWatchBookmarks=True`, which the real server reads as true (Convert_Slice_string_To_bool)."""
import pytest

from kubernetes import client, config, watch


@pytest.fixture(scope="module")
def core(sim):
    api = config.new_client_from_config(config_file=sim.kubeconfig)
    yield client.CoreV1Api(api)
    api.close()


def _cm(name, value):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": value})


def _events(core, ns, rv, want, stop_when, timeout=10):
    """Watch configmaps in ns from rv (bookmarks on); collect (type, name, rv) until stop_when(events)."""
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, allow_watch_bookmarks=True,
                       timeout_seconds=timeout):
        if ev["type"] == "BOOKMARK":
            seen.append(("BOOKMARK", None, ev["raw_object"]["metadata"]["resourceVersion"]))
        else:
            md = ev["object"].metadata
            if md.name in want:
                seen.append((ev["type"], md.name, md.resource_version))
        if stop_when(seen):
            w.stop()
    return seen


def test_list_pods(core, rest, sim_ns):
    core.create_namespaced_pod(sim_ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name="py"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="busybox")])))
    pods = core.list_namespaced_pod(sim_ns)
    assert [p.metadata.name for p in pods.items] == ["py"]
    assert pods.metadata.resource_version
    assert pods.items[0].spec.service_account_name == "default"


def test_watch_with_bookmarks_then_resume_from_a_resource_version(core, sim_ns):
    rv0 = core.list_namespaced_config_map(sim_ns).metadata.resource_version
    core.create_namespaced_config_map(sim_ns, _cm("w", "1"))
    core.patch_namespaced_config_map("w", sim_ns, {"data": {"k": "2"}})
    core.delete_namespaced_config_map("w", sim_ns)

    def all_seen(evs):
        types = [t for t, _n, _rv in evs]
        return {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"} <= set(types)
    evs = _events(core, sim_ns, rv0, {"w"}, all_seen)
    assert all_seen(evs), evs   # the test sim sends a bookmark every second
    changes = [(t, n) for t, n, _rv in evs if t != "BOOKMARK"]
    assert changes == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")], evs

    modified_rv = next(rv for t, _n, rv in evs if t == "MODIFIED")
    resumed = _events(core, sim_ns, modified_rv, {"w"}, lambda e: any(t == "DELETED" for t, _n, _rv in e))
    assert [(t, n) for t, n, _rv in resumed if t != "BOOKMARK"] == [("DELETED", "w")], resumed
