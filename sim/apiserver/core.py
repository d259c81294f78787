"""Request-independent API operations on the store: create, update (main and subresources), delete.

`Api` is shared by the HTTP handlers and the in-process controllers (GC, namespace, PDB, CRD).
Contracts follow kube-apiserver 1.32 as captured in the reference traces:
* generation: starts at 1 and grows on spec changes (anything outside metadata/status) and when
  deletionTimestamp is first set, only for resources with a status subresource (rt.generation).
* a no-op update keeps resourceVersion; the main endpoint keeps the old status when status is a subresource;
  `/status` takes only `.status`.
* an update that leaves a deleting object without finalizers deletes it: the response is the updated object
  (old resourceVersion) and the DELETED event carries the last stored state.
* DELETE bodies: pods -> the Pod; immediate delete of others -> Status Success; objects kept by finalizers ->
  the object. Pods with a nodeName are deleted gracefully (deletionTimestamp = now + grace) and stay until a
  grace-0 delete; grace only shortens.
"""
import copy
import datetime
import random
import uuid

from . import admission
from . import schema as crschema
from . import validation
from .errors import ApiError, already_exists, bad_request, conflict, invalid, not_found, invalid_value, qualified
from .store import now_rfc3339

META_KEEP = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
             "name", "namespace")


def _spec_part(o):
    return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def storage_key(rt, ns, name):
    """The etcd key kube-apiserver stores the object under (as shown in StorageError messages): core and most
    built-in groups use the resource name; CRDs and custom resources are prefixed by their group; Services live
    under services/specs and Nodes under minions."""
    if rt.is_cr or rt.group == "apiextensions.k8s.io":
        prefix = f"{rt.group}/{rt.plural}"
    else:
        prefix = {"services": "services/specs", "nodes": "minions"}.get(rt.plural, rt.plural)
    return "/registry/" + prefix + (f"/{ns}" if rt.namespaced else "") + f"/{name}"


def uid_precondition_failed(rt, ns, name, sent, stored):
    """409 of a UID precondition: storage.Preconditions.Check -> NewInvalidObjError, turned into a Conflict by
    storeerr.InterpretUpdateError (StorageError text: code 4 "invalid object")."""
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(rt)} "{name}": StorageError: '
                    f"invalid object, Code: 4, Key: {storage_key(rt, ns, name)}, ResourceVersion: 0, "
                    f"AdditionalErrorMsg: Precondition failed: UID in precondition: {sent}, UID in object meta: "
                    f"{stored}", {"name": name, **({"group": rt.group} if rt.group else {}), "kind": rt.plural})


def uid_immutable(rt, name, sent):
    """422 of a changed uid: ValidateObjectMetaAccessorUpdate (ValidateImmutableField on metadata.uid), reported
    twice in the causes because rest.BeforeUpdate runs it (validateCommonFields) and so does the strategy's
    ValidateUpdate; the message de-duplicates (utilerrors aggregate)."""
    err = invalid(rt, name, [invalid_value("metadata.uid", sent, "field is immutable")])
    err.body["details"]["causes"] *= 2
    return err


class Result:
    """What a write answers: HTTP code, body, warnings."""

    def __init__(self, code, body, warnings=()):
        self.code, self.body, self.warnings = code, body, list(warnings)


class Api:
    def __init__(self, registry, store):
        self.registry, self.store = registry, store
        self.hooks_after_write = []   # callables(rt) run after each committed write (controllers wake up)

    # ---- helpers ---------------------------------------------------------------------------
    def _wake(self, rt):
        for h in self.hooks_after_write:
            h(rt)

    def ns_check_create(self, rt, ns, name):
        if not rt.namespaced:
            return
        nsobj = self.store.get("/namespaces", "", ns)
        if nsobj is None:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
        if nsobj["metadata"].get("deletionTimestamp"):
            d = {"name": name, "kind": rt.plural}
            if rt.group:
                d = {"name": name, "group": rt.group, "kind": rt.plural}
            d["causes"] = [{"reason": "NamespaceTerminating", "message": f"namespace {ns} is being terminated",
                            "field": "metadata.namespace"}]
            from .errors import qualified
            raise ApiError(403, "Forbidden", f'{qualified(rt)} "{name}" is forbidden: unable to create new content '
                           f"in namespace {ns} because it is being terminated", d)

    def _cr_schema(self, rt):
        ver = next(v for v in rt.crd["spec"]["versions"] if v["name"] == rt.version)
        return (ver.get("schema") or {}).get("openAPIV3Schema") or {"type": "object",
                                                                    "x-kubernetes-preserve-unknown-fields": True}

    def _cr_prepare(self, rt, obj, field_validation):
        """Prune unknown fields per fieldValidation, apply defaults; returns warnings."""
        sch = self._cr_schema(rt)
        md = obj.get("metadata")
        probe = copy.deepcopy(obj)
        dropped = sorted(crschema.prune(probe, sch))
        warnings = []
        if dropped:
            fv = field_validation or "Warn"
            if fv == "Strict":
                raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict '
                                  "decoding error: " + ", ".join(f'unknown field "{d}"' for d in dropped))
            if fv == "Warn":
                warnings = [f'unknown field "{d}"' for d in dropped]
        obj.clear()
        obj.update(probe)
        obj["metadata"] = md
        crschema.default(obj, sch)
        return warnings

    def _validate(self, rt, obj, old, sub=""):
        name = obj["metadata"].get("name")
        causes = validation.validate(rt, obj, old)
        if rt.is_cr:
            sch = self._cr_schema(rt)
            causes += crschema.validate(obj, sch)
            causes += validation.scale_causes(rt, obj, spec=sub != "status")
        if causes:
            raise invalid(rt, name, causes)

    def _check_kind(self, rt, obj):
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise invalid(rt, obj.get("metadata", {}).get("name"),
                          [invalid_value("kind", kind, f"must be {rt.kind}")], kind=kind)
        api_version = obj.get("apiVersion")
        if api_version and api_version != rt.api_version:
            raise bad_request(f'the API version in the data ({api_version}) does not match the expected API version '
                              f'({rt.api_version})')
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version

    # ---- create ----------------------------------------------------------------------------
    def create(self, rt, ns, obj, *, dry_run=False, field_validation=None, keep_status=False):
        if not isinstance(obj, dict):
            raise bad_request("the object provided is unrecognized")
        self._check_kind(rt, obj)
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            md["namespace"] = ns or md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        if rt.key in ("/pods", "/persistentvolumeclaims"):
            # The real chain runs NamespaceLifecycle first, then ServiceAccount / StorageObjectInUseProtection
            # (admission.py), all before the name is generated and the object validated.
            self.ns_check_create(rt, md.get("namespace"), md.get("name") or md.get("generateName") or "")
            admission.admit_create(self.store, rt, md.get("namespace"), obj)
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        if not md.get("name"):
            from .errors import required
            raise invalid(rt, "", [required("metadata.name", "name or generateName is required")])
        warnings = []
        if rt.is_cr:
            warnings = self._cr_prepare(rt, obj, field_validation)
        validation.check_microtime(rt, obj)
        validation.normalize(rt, obj)
        if rt.status and not keep_status and rt.key != "/pods":
            obj.pop("status", None)
        if rt.key == "/pods" and not keep_status:
            obj.pop("status", None)
        validation.default_on_create(rt, obj, self.store)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                  "selfLink"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        if rt.generation:
            md["generation"] = 1
        else:
            md.pop("generation", None)
        self._validate(rt, obj, None)
        self.ns_check_create(rt, md.get("namespace"), md["name"])
        if self.store.get(rt.key, md.get("namespace", ""), md["name"]) is not None:
            raise already_exists(rt, md["name"])
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
            from .crd import establish
            establish(obj)
        if dry_run:
            return Result(201, obj, warnings)
        stored = self.store.create(rt.key, rt.into(obj))
        self._wake(rt)
        return Result(201, rt.out(stored), warnings)

    # ---- update ----------------------------------------------------------------------------
    def _merge_for_subresource(self, rt, old, new, sub):
        """Apply what an endpoint is allowed to change onto `old`; returns the candidate object."""
        if sub == "status":
            cand = copy.deepcopy(old)
            if "status" in new:
                cand["status"] = new["status"]
            else:
                cand.pop("status", None)
            cand["metadata"]["resourceVersion"] = new.get("metadata", {}).get("resourceVersion")
            return cand
        cand = copy.deepcopy(new)
        if rt.status:
            if "status" in old:
                cand["status"] = copy.deepcopy(old["status"])
            else:
                cand.pop("status", None)
        return cand

    def update(self, rt, ns, name, new, *, sub="", dry_run=False, field_validation=None, require_rv=None,
               from_patch=False):
        """PUT semantics (also the tail of PATCH: `from_patch`, where `new` is the patched object). Returns Result.

        A `metadata.uid` that differs from the stored one is never written. In a PUT body it is a precondition
        (rest.defaultUpdatedObjectInfo.Preconditions), checked by the storage before anything else: 409. In a
        patched object it reaches validation after the resourceVersion check (rest.BeforeUpdate): 422."""
        old = rt.out(self.store.get(rt.key, ns, name))
        if old is None:
            raise not_found(rt, name)
        if not isinstance(new, dict):
            raise bad_request("the object provided is unrecognized")
        self._check_kind(rt, new)
        md = new.setdefault("metadata", {})
        if md.get("name") and md["name"] != name:
            raise bad_request(f"the name of the object ({md['name']}) does not match the name on the URL ({name})")
        if rt.namespaced and md.get("namespace") and md["namespace"] != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        sent_uid = md.get("uid")
        if sent_uid and sent_uid != old["metadata"]["uid"] and not from_patch:
            raise uid_precondition_failed(rt, ns, name, sent_uid, old["metadata"]["uid"])
        rv = md.get("resourceVersion")
        if require_rv is None:
            require_rv = rt.is_cr
        if not rv and require_rv:
            from .errors import Cause
            raise invalid(rt, name, [Cause("metadata.resourceVersion", "FieldValueInvalid",
                                           "Invalid value: 0x0: must be specified for an update")])
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        if sent_uid and sent_uid != old["metadata"]["uid"]:
            raise uid_immutable(rt, name, sent_uid)
        warnings = []
        cand = self._merge_for_subresource(rt, old, new, sub)
        cmd = cand.setdefault("metadata", {})
        for k in META_KEEP:
            if k in old["metadata"]:
                cmd[k] = old["metadata"][k]
            else:
                cmd.pop(k, None)
        cmd.pop("managedFields", None)
        cmd["resourceVersion"] = old["metadata"]["resourceVersion"]
        if rt.is_cr:
            warnings = self._cr_prepare(rt, cand, field_validation)
        validation.check_microtime(rt, cand)
        validation.normalize(rt, cand)
        if rt.key == "/namespaces":
            spec = dict(old.get("spec", {}))
            if sub == "finalize":  # only namespaces/finalize may change spec.finalizers
                spec["finalizers"] = list((new.get("spec") or {}).get("finalizers") or [])
            cand["spec"] = spec
            cand.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        if rt.generation and _spec_part(cand) != _spec_part(old):
            cmd["generation"] = old["metadata"].get("generation", 1) + 1
        self._validate(rt, cand, old, sub)
        if cand == old:
            return Result(200, old, warnings)
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions" and sub != "status":
            from .crd import establish
            establish(cand)
        if dry_run:
            return Result(200, cand, warnings)
        if self._finalized(rt, cand):
            self.store.remove(rt.key, ns, name)
            self._wake(rt)
            return Result(200, cand, warnings)
        stored = self.store.update(rt.key, rt.into(cand))
        self._wake(rt)
        return Result(200, rt.out(stored), warnings)

    @staticmethod
    def _finalized(rt, obj):
        md = obj["metadata"]
        if not md.get("deletionTimestamp") or md.get("finalizers"):
            return False
        if rt.key == "/pods" and md.get("deletionGracePeriodSeconds", 0) != 0:
            return False
        return True

    # ---- delete ----------------------------------------------------------------------------
    def delete(self, rt, ns, name, opts=None, *, dry_run=False):
        """DELETE semantics. opts: DeleteOptions dict. Returns Result."""
        opts = opts or {}
        old = rt.out(self.store.get(rt.key, ns, name))
        if old is None:
            raise not_found(rt, name)
        pre = opts.get("preconditions") or {}
        md = old["metadata"]
        if pre.get("uid") and pre["uid"] != md["uid"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.kind} "{name}": the UID in the '
                           f'precondition ({pre["uid"]}) does not match the UID in record ({md["uid"]}). The object '
                           "might have been deleted and then recreated", {"name": name, "kind": rt.kind})
        if pre.get("resourceVersion") and pre["resourceVersion"] != md["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.kind} "{name}": the '
                           f'ResourceVersion in the precondition ({pre["resourceVersion"]}) does not match the '
                           f'ResourceVersion in record ({md["resourceVersion"]}). The object might have been modified',
                           {"name": name, "kind": rt.kind})
        policy = opts.get("propagationPolicy")
        if policy is None and opts.get("orphanDependents") is True:
            policy = "Orphan"
        if policy not in (None, "Orphan", "Foreground", "Background"):
            raise invalid(rt, name, [invalid_value("propagationPolicy", policy,
                                                   'must be one of "Background", "Foreground", "Orphan" or nil')])
        cand = copy.deepcopy(old)
        cmd = cand["metadata"]
        fins = list(cmd.get("finalizers") or [])
        if policy == "Orphan" and "orphan" not in fins:
            fins.append("orphan")
            if "foregroundDeletion" in fins:
                fins.remove("foregroundDeletion")
        if policy == "Foreground" and "foregroundDeletion" not in fins:
            fins.append("foregroundDeletion")
            if "orphan" in fins:
                fins.remove("orphan")
        if policy == "Background":
            fins = [f for f in fins if f not in ("orphan", "foregroundDeletion")]
        if fins:
            cmd["finalizers"] = fins
        else:
            cmd.pop("finalizers", None)
        if rt.key == "/pods":
            return self._delete_pod(rt, old, cand, opts, dry_run)
        if rt.key == "/namespaces":
            if not md.get("deletionTimestamp"):
                cmd["deletionTimestamp"] = now_rfc3339()
                cmd["deletionGracePeriodSeconds"] = 0
                cand.setdefault("status", {})["phase"] = "Terminating"
            if dry_run:
                return Result(200, cand)
            if cand != old:
                stored = self.store.update(rt.key, cand)
                self._wake(rt)
                return Result(200, stored)
            return Result(200, old)
        if cmd.get("finalizers"):
            if not md.get("deletionTimestamp"):
                cmd["deletionTimestamp"] = now_rfc3339()
                cmd["deletionGracePeriodSeconds"] = 0
                if rt.generation:
                    cmd["generation"] = md.get("generation", 1) + 1
            if cand == old or dry_run:
                return Result(200, cand)
            stored = self.store.update(rt.key, rt.into(cand))
            self._wake(rt)
            return Result(200, rt.out(stored))
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                  "details": {"name": name, **({"group": rt.group} if rt.group else {}), "kind": rt.plural,
                              "uid": md["uid"]}}
        if dry_run:
            return Result(200, status)
        self.store.remove(rt.key, ns, name)
        self._wake(rt)
        return Result(200, status)

    def _delete_pod(self, rt, old, cand, opts, dry_run):
        md, cmd = old["metadata"], cand["metadata"]
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = (old.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        grace = max(int(grace), 0)
        phase = (old.get("status") or {}).get("phase")
        if not (old.get("spec") or {}).get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0
        now = _utcnow()
        if md.get("deletionTimestamp"):
            cur_grace = md.get("deletionGracePeriodSeconds", 0)
            if grace >= cur_grace and cand == old:
                return Result(200, old)
            if grace < cur_grace:
                cmd["deletionTimestamp"] = _ts(now + datetime.timedelta(seconds=grace))
                cmd["deletionGracePeriodSeconds"] = grace
        else:
            cmd["deletionTimestamp"] = _ts(now + datetime.timedelta(seconds=grace))
            cmd["deletionGracePeriodSeconds"] = grace
        if dry_run:
            return Result(200, cand)
        if cand != old:
            stored = self.store.update(rt.key, cand)
        else:
            stored = old
        if cmd.get("deletionGracePeriodSeconds") == 0 and not cmd.get("finalizers"):
            stored = self.store.remove(rt.key, cmd.get("namespace"), cmd["name"])
        self._wake(rt)
        return Result(200, stored)

    # ---- internal helpers for controllers ----------------------------------------------------
    def put_internal(self, rt, obj):
        """Store an already-valid full object (controllers: status updates, finalizer removal)."""
        md = obj["metadata"]
        old = self.store.get(rt.key, md.get("namespace", ""), md["name"])
        if old is None or old == obj:
            return old
        if self._finalized(rt, obj):
            self.store.remove(rt.key, md.get("namespace", ""), md["name"])
            self._wake(rt)
            return None
        out = self.store.update(rt.key, obj)
        self._wake(rt)
        return out
