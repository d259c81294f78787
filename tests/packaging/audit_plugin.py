"""A pytest plugin that keeps the operator's requests from every API server simulator a suite starts, for the RBAC
check over a whole suite (scripts/check-rbac.py runs `pytest tests/e2e -p audit_plugin`).

When MEDIVOTE_AUDIT_OUT names a file, every simlib.Sim appends, just before it stops, the audit records of the
operator's user (system:serviceaccount:medivote-system:medivote-operator) to that file, one JSON object per line.
The simulator keeps the latest 100000 records: a simulator that reached that many is reported on stderr, since
older records were dropped.
"""
import json
import os
import sys

import simlib

OPERATOR_USER = "system:serviceaccount:medivote-system:medivote-operator"
_original_stop = simlib.Sim.stop


def _stop_and_keep(self):
    out = os.environ.get("MEDIVOTE_AUDIT_OUT")
    if out:
        try:
            items = self.admin("GET", "requests").body["items"]
        except Exception as e:  # the simulator is gone already: nothing to keep
            sys.stderr.write(f"audit_plugin: cannot read the audit log of {self.dir}: {e}\n")
            items = []
        if len(items) >= 100000:
            sys.stderr.write(f"audit_plugin: {self.dir}: the audit log is full, older records were dropped\n")
        with open(out, "a") as f:
            for item in items:
                if item.get("user") == OPERATOR_USER:
                    f.write(json.dumps(item) + "\n")
    return _original_stop(self)


simlib.Sim.stop = _stop_and_keep
