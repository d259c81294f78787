"""The pods' side of issue 17's order checks (tests/e2e/test_shutdown_order.py, tests/e2e/test_stack_helm.py): the
shutdown annotations the operator leaves on each pod (src/shutdown/state.h: medivote.io/shutdown-requested-at, the
first endpoint call; -accepted-at, the endpoint's 2xx answer or the service's own exit), as a watch of the
namespace's pods saw them last (samples_lib.ShutdownWatch: a deleted pod's final annotations come with its DELETED
event). Start the watch before the deletion the test makes.

* `final_lives(watch, services, uids)`: each service's PodLifes once the watch has seen its pods deleted.
* `annotation_order_wrong(lives, order)`: whether services going down together reached their HTTP stage in `order`,
  by those annotations. For critical services only: a simple pod has no HTTP stage.
"""
from e2elib import poll
from samples_lib import ShutdownWatch


def watch_pods(cluster, ns):
    """A started ShutdownWatch of the pods (and MediVoteServices) of `ns`; stop() it when done."""
    return ShutdownWatch(cluster.rest, ns).start()


def final_lives(watch, services, uids=None, timeout=10):
    """{service: [PodLife]} of the pods of `uids` (by default every pod seen), once the watch has seen each of them
    deleted (their final annotations), or after `timeout` s (a watch that broke and was listed again after a
    deletion never sees it: what it saw before is checked)."""
    def lives():
        return {s: [life for life in watch.lives(service=s) if uids is None or life.uid in uids] for s in services}
    def all_gone():
        ls = lives()
        return ls if all(life.gone_at for v in ls.values() for life in v) else None
    try:
        return poll(all_gone, timeout, "the watch to see the pods deleted")
    except AssertionError:
        return lives()


def annotation_order_wrong(lives, order):
    """What breaks `order` (critical services, first stopped first) in the pods' annotations, {service: [PodLife]}:
    a service without pods, a pod without accepted-at (its HTTP stage never reached), or a service whose first call
    (the earliest requested-at of its pods) came before the last acceptance of the service before it. Empty when the
    order held."""
    wrong = []
    spans = {}
    for service in order:
        ls = lives.get(service) or []
        if not ls:
            wrong.append(f"{service}: no pod seen")
            continue
        for life in ls:
            if not life.at("requested") or not life.at("accepted"):
                wrong.append(f"{service}: no requested-at or accepted-at annotation: {life!r}")
        requested = [life.at("requested") for life in ls if life.at("requested")]
        accepted = [life.at("accepted") for life in ls if life.at("accepted")]
        if requested and accepted:
            spans[service] = (min(requested), max(accepted))
    present = [s for s in order if s in spans]
    for earlier, later in zip(present, present[1:]):
        if spans[later][0] < spans[earlier][1]:
            wrong.append(f"{later} was first called (requested-at) {spans[earlier][1] - spans[later][0]:.3f} s "
                         f"before {earlier}'s last acceptance (accepted-at)")
    return wrong
