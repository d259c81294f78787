"""Unit tests of the kubelet simulator's pure parts (no server, no processes)."""
import asyncio
import os

import pytest

from sim.kubelet import timeutil
from sim.kubelet.backoff import Backoff, go_duration
from sim.kubelet.expand import EnvError, build_env, expand
from sim.kubelet.images import ImageMap, argv
from sim.kubelet.ipam import Ipam
from sim.kubelet.status import ContainerView, phase, pod_status

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "sim", "testdata")


@pytest.mark.parametrize("src,want", [
    ("$(A)-$(B)", "x-$(B)"),
    ("$$(A)", "$(A)"),
    ("$$$(A)", "$x"),
    ("a$b", "a$b"),
    ("$(A", "$(A"),
    ("$", "$"),
    ("$()", "$()"),
    ("p$(A)q$(A)", "pxqx"),
])
def test_expand_follows_kubernetes_rules(src, want):
    assert expand(src, {"A": "x"}) == want


def test_build_env_orders_and_resolves_references():
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "a"}},
           "spec": {"nodeName": "n1"}}
    objs = {("Secret", "s"): {"metadata": {"namespace": "ns"}, "data": {"k": "c2VjcmV0"}},
            ("ConfigMap", "c"): {"metadata": {"namespace": "ns"}, "data": {"k": "cm", "X": "1"}}}

    async def fetch(kind, name):
        return objs.get((kind, name))

    c = {"envFrom": [{"configMapRef": {"name": "c"}, "prefix": "CM_"}],
         "env": [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "URL", "value": "http://$(IP):80/$(NOPE)"},
                 {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                 {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                 {"name": "O", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k", "optional": True}}},
                 {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                 {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                 {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}]}
    env = asyncio.run(build_env(pod, c, "127.77.0.5", "127.0.0.1", fetch))
    assert env["URL"] == "http://127.77.0.5:80/$(NOPE)"
    assert env["S"] == "secret" and env["C"] == "cm" and "O" not in env
    assert env["CM_X"] == "1" and env["L"] == "a" and env["NODE"] == "n1" and env["UID"] == "u1"
    with pytest.raises(EnvError, match='couldn\'t find key nope in Secret ns/s'):
        asyncio.run(build_env(pod, {"env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "s", "key": "nope"}}}]},
                              "", "", fetch))


def test_backoff_sequence_and_reset():
    b = Backoff(10, 300)
    delays = [b.next_delay(t) for t in (0, 1, 12, 33, 74, 155, 316, 617)]
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300]
    assert b.next_delay(617 + 601) == 0          # ran > 10 min: starts over
    assert [go_duration(x) for x in (10, 80, 160, 300, 0.2)] == ["10s", "1m20s", "2m40s", "5m0s", "200ms"]


def test_image_map_command_and_args_override():
    m = ImageMap(os.path.join(TESTDATA, "images.yaml"))
    spec = m.lookup("docker.io/medivote/workload")
    assert spec is not None and spec.entrypoint[1].endswith("/sim/testdata/workload.py")
    assert os.path.isabs(spec.entrypoint[1])
    assert argv(spec, None, None) == spec.entrypoint + ["--port", "8080"]
    assert argv(spec, None, ["--port", "9"]) == spec.entrypoint + ["--port", "9"]
    assert argv(spec, ["/bin/true"], None) == ["/bin/true"]
    assert argv(spec, ["/bin/echo"], ["x"]) == ["/bin/echo", "x"]
    assert m.lookup("nope:1") is None


def test_ipam_allocates_unique_and_reuses():
    ipam = Ipam("127.77.0.0/30")
    a = ipam.allocate("u1")
    assert a == "127.77.0.2" and ipam.allocate("u1") == a
    with pytest.raises(RuntimeError):
        ipam.allocate("u2")
    ipam.release("u1")
    assert ipam.allocate("u3", preferred="127.77.0.2") == "127.77.0.2"


def _view(name, state, code=None, **kw):
    v = ContainerView(name=name, image="i", state=state, **kw)
    v.exit_code = code
    if state != "waiting":
        v.started_at = v.finished_at = 0
    return v


def test_phase_matches_kubelet_get_phase():
    assert phase("Always", [], [_view("a", "waiting")], False) == "Pending"
    assert phase("Always", [], [_view("a", "running"), _view("b", "waiting")], False) == "Pending"
    assert phase("Always", [], [_view("a", "running")], False) == "Running"
    assert phase("Always", [], [_view("a", "terminated", 0)], False) == "Running"
    assert phase("Never", [], [_view("a", "terminated", 0)], False) == "Succeeded"
    assert phase("Never", [], [_view("a", "terminated", 1)], False) == "Failed"
    assert phase("OnFailure", [], [_view("a", "terminated", 1)], False) == "Running"
    assert phase("Always", [], [_view("a", "terminated", 143)], True) == "Failed"
    assert phase("Always", [], [_view("a", "terminated", 0)], True) == "Succeeded"
    assert phase("Never", [_view("i", "terminated", 1, init=True)], [_view("a", "waiting")], False) == "Failed"
    assert phase("Always", [_view("i", "running", init=True)], [_view("a", "waiting")], False) == "Pending"
    side = _view("s", "running", init=True, sidecar=True)
    assert phase("Always", [side], [_view("a", "running")], False) == "Running"


def test_pod_status_conditions_and_transition_times():
    pod = {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Always"},
           "status": {"conditions": [{"type": "DisruptionTarget", "status": "True"},
                                     {"type": "Ready", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}
    a = _view("a", "running", ready=False, started=True)
    st = pod_status(pod, [], [a], sandbox_ready=True, pod_ip="127.77.0.2", host_ip="127.0.0.1",
                    start_time=100, terminal=False, now=200)
    conds = {c["type"]: c for c in st["conditions"]}
    assert [c["type"] for c in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                    "ContainersReady", "PodScheduled", "DisruptionTarget"]
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [a]"
    assert conds["Ready"]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert st["phase"] == "Running" and st["podIPs"] == [{"ip": "127.77.0.2"}]
    assert st["startTime"] == timeutil.rfc3339(100)
    cs = st["containerStatuses"][0]
    assert list(cs) == ["name", "state", "lastState", "ready", "restartCount", "image", "imageID", "started"]
    a.ready = True
    st2 = pod_status({**pod, "status": st}, [], [a], sandbox_ready=True, pod_ip="127.77.0.2",
                     host_ip="127.0.0.1", start_time=100, terminal=False, now=300)
    r = {c["type"]: c for c in st2["conditions"]}["Ready"]
    assert r["status"] == "True" and r["lastTransitionTime"] == timeutil.rfc3339(300) and "reason" not in r


def test_micro_time_has_six_digits():
    s = timeutil.micro_time(1.5)
    assert s == "1970-01-01T00:00:01.500000Z"
    assert timeutil.parse(s) == 1.5
