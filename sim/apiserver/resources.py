"""The resource registry: one `ResourceType` per served resource; built-ins are one line each.

A ResourceType says how the generic store and handlers treat the resource: scope, kind names,
which subresources exist, whether `status` is a subresource (main endpoint drops .status, generation
is tracked), the field selectors it supports and its default Table printer."""


class ResourceType:
    def __init__(self, group, version, plural, kind, *, namespaced=True, short=(), singular=None,
                 status=False, scale=None, extra_sub=(), fields=(), verbs=None, categories=(),
                 printer=None, crd=None, generation=None, list_continue=False, storage=None,
                 to_storage=None, from_storage=None):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced = namespaced
        self.short = list(short)
        self.singular = singular or kind.lower()
        self.status = status              # status is a subresource
        self.scale = scale                # {specReplicasPath, statusReplicasPath, labelSelectorPath} or None
        self.extra_sub = list(extra_sub)  # e.g. ["eviction", "binding"] for pods
        self.fields = set(fields) | {"metadata.name", "metadata.namespace"}
        self.verbs = verbs or ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        self.categories = list(categories)
        self.printer = printer            # name of a built-in Table printer, or None for Name/Age
        self.crd = crd                    # the CRD object (dict) for custom resources
        self.generation = status if generation is None else generation
        self.list_continue = list_continue  # CR lists always carry metadata.continue ""
        self.storage = storage            # store key shared with another API (events.k8s.io -> core events)
        self.to_storage = to_storage      # API form -> stored form (None: identical)
        self.from_storage = from_storage  # stored form -> API form

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def ident(self):
        """`group/plural`: identifies the API resource."""
        return f"{self.group}/{self.plural}"

    @property
    def key(self):
        """The store key (the resource whose objects this one serves)."""
        return self.storage or self.ident

    def out(self, obj):
        """Stored object -> this API's form."""
        return self.from_storage(obj) if obj is not None and self.from_storage else obj

    def into(self, obj):
        """This API's form -> stored object."""
        return self.to_storage(obj) if obj is not None and self.to_storage else obj

    @property
    def list_kind(self):
        if self.crd:
            return self.crd["spec"]["names"].get("listKind") or self.kind + "List"
        return self.kind + "List"

    @property
    def is_cr(self):
        return self.crd is not None

    def subresources(self):
        subs = []
        if self.status:
            subs.append("status")
        if self.scale is not None:
            subs.append("scale")
        return subs + self.extra_sub


from . import events as _events

R = ResourceType
# The built-in resources served at start. Adding one is one line here.
BUILTINS = [
    R("", "v1", "namespaces", "Namespace", namespaced=False, short=["ns"], status=True, generation=False,
      extra_sub=["finalize"], fields=["status.phase"],
      verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
    R("", "v1", "pods", "Pod", short=["po"], status=True, generation=False, extra_sub=["eviction", "binding"],
      fields=["spec.nodeName", "status.phase", "spec.restartPolicy", "spec.schedulerName",
              "spec.serviceAccountName", "spec.hostNetwork", "status.podIP", "status.nominatedNodeName"],
      categories=["all"], printer="pod"),
    R("", "v1", "services", "Service", short=["svc"], status=True, generation=False, categories=["all"],
      verbs=["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]),
    R("", "v1", "endpoints", "Endpoints", short=["ep"], singular="endpoints"),
    R("", "v1", "secrets", "Secret", fields=["type"]),
    R("", "v1", "configmaps", "ConfigMap", short=["cm"]),
    R("", "v1", "events", "Event", short=["ev"],
      fields=["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"]),
    R("", "v1", "nodes", "Node", namespaced=False, short=["no"], status=True, generation=False,
      fields=["spec.unschedulable"]),
    R("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], status=True, generation=False),
    R("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"], extra_sub=["token"]),  # token: tokenrequest.py
    R("events.k8s.io", "v1", "events", "Event", short=["ev"],
      fields=["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "type",
              "reportingController"], storage="/events", to_storage=_events.to_core, from_storage=_events.from_core),
    R("coordination.k8s.io", "v1", "leases", "Lease"),
    R("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", generation=True),
    R("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=["pdb"], status=True),
    R("apps", "v1", "deployments", "Deployment", short=["deploy"], status=True, categories=["all"]),
    R("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=["netpol"]),
    R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    R("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    R("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False,
      short=["crd", "crds"], status=True, categories=["api-extensions"]),
]


class Registry:
    """All served resource types, by (group, version, plural) and by kind."""

    def __init__(self):
        self.types = {}
        for rt in BUILTINS:
            self.add(rt)

    def add(self, rt):
        self.types[(rt.group, rt.version, rt.plural)] = rt

    def remove(self, group, plural):
        for k in [k for k in self.types if k[0] == group and k[2] == plural and self.types[k].is_cr]:
            del self.types[k]

    def get(self, group, version, plural):
        return self.types.get((group, version, plural))

    def groups(self):
        """Ordered {group: [version,...]} (legacy "" excluded)."""
        out = {}
        for (g, v, _p) in self.types:
            if g:
                out.setdefault(g, [])
                if v not in out[g]:
                    out[g].append(v)
        return out

    def in_gv(self, group, version):
        return [rt for (g, v, _p), rt in self.types.items() if g == group and v == version]

    def by_kind(self, api_version, kind):
        for rt in self.types.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None
