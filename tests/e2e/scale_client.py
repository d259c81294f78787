"""A scale client that finds and drives a resource's scale subresource the way the HorizontalPodAutoscaler does.

The HPA controller (pkg/controller/podautoscaler/horizontal.go) turns its `scaleTargetRef` {apiVersion, kind,
name} into a resource with a discovery-backed REST mapper, then uses k8s.io/client-go/scale:

* `NewDiscoveryScaleKindResolver` (client-go/scale/client.go, util.go): the group-version's resource list
  (GET /apis/<group>/<version>) must hold `<resource>/scale`; its `group`/`version`, when both are set, are the
  Scale's group-version (otherwise the parent's), its `kind` the Scale's kind. No entry: "could not find scale
  subresource for <gvr> in discovery information";
* `Scales(ns).Get(ctx, gr, name)`: GET .../namespaces/<ns>/<resource>/<name>/scale, decoded as one of the
  Scale versions the scale scheme knows (autoscaling/v1, extensions/v1beta1, apps/v1beta1, apps/v1beta2);
* `Scales(ns).Update(ctx, gr, scale)`: PUT of the Scale it read with spec.replicas changed (its
  resourceVersion is a precondition: a 409 makes the HPA retry on its next sync).

The HPA reads `status.selector` (a label selector string, labels.Parse) to find the pods whose metrics it
averages; an empty selector is its `InvalidSelector` condition ("selector is required")."""
from urllib.parse import quote

SCALE_VERSIONS = {"autoscaling/v1", "extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"}


class ScaleError(Exception):
    pass


class ScaleClient:
    def __init__(self, rest):
        self.rest = rest

    def _get(self, path):
        r = self.rest.get(path)
        if r.status != 200:
            raise ScaleError(f"GET {path}: {r.status} {r.body}")
        return r.body

    @staticmethod
    def _gv_path(gv):
        return "/api/" + gv if "/" not in gv else "/apis/" + gv

    def mapping(self, api_version, kind):
        """RESTMapper.RESTMapping(GroupKind, version): the resource serving `kind` in `api_version`."""
        for r in self._get(self._gv_path(api_version))["resources"]:
            if r["kind"] == kind and "/" not in r["name"]:
                return {"groupVersion": api_version, "resource": r["name"], "namespaced": r["namespaced"]}
        raise ScaleError(f'no matches for kind "{kind}" in version "{api_version}"')

    def scale_kind(self, mapping):
        """discoveryScaleResolver.ScaleForResource: the Scale's group-version-kind from discovery alone."""
        gv, resource = mapping["groupVersion"], mapping["resource"]
        for r in self._get(self._gv_path(gv))["resources"]:
            if r["name"] == resource + "/scale":
                scale_gv = f"{r['group']}/{r['version']}" if r.get("group") and r.get("version") else gv
                if scale_gv not in SCALE_VERSIONS or r["kind"] != "Scale":
                    raise ScaleError(f"unrecognized scale kind {scale_gv}, Kind={r['kind']} for {resource}")
                if not {"get", "update"} <= set(r.get("verbs") or []):
                    raise ScaleError(f"{resource}/scale does not serve get and update: {r.get('verbs')}")
                return scale_gv, r["kind"]
        raise ScaleError(f"could not find scale subresource for {gv}, Resource={resource} in discovery information")

    def _path(self, mapping, ns, name):
        gv = mapping["groupVersion"]
        scope = f"/namespaces/{quote(ns)}" if mapping["namespaced"] else ""
        return f"{self._gv_path(gv)}{scope}/{mapping['resource']}/{quote(name)}/scale"

    def get(self, mapping, ns, name):
        scale_gv, kind = self.scale_kind(mapping)
        sc = self._get(self._path(mapping, ns, name))
        if (sc.get("apiVersion"), sc.get("kind")) != (scale_gv, kind):
            raise ScaleError(f"the scale subresource answered {sc.get('apiVersion')} {sc.get('kind')}, "
                             f"discovery said {scale_gv} {kind}")
        return sc

    def update(self, mapping, ns, scale):
        """PUT the Scale back; returns (status code, body): 200 and the new Scale, or the error Status."""
        r = self.rest.put(self._path(mapping, ns, scale["metadata"]["name"]), scale)
        return r.status, r.body

    def scale_target(self, ns, ref):
        """What one HPA sync does to reach its target: mapping, Scale, and the parsed selector."""
        m = self.mapping(ref["apiVersion"], ref["kind"])
        sc = self.get(m, ns, ref["name"])
        selector = (sc.get("status") or {}).get("selector") or ""
        if not selector:
            raise ScaleError("selector is required")
        return m, sc, parse_selector(selector)


def parse_selector(text):
    """labels.Parse for the equality-based selectors a Scale carries ("a=b,c=d"): {key: value}."""
    out = {}
    for term in text.split(","):
        key, sep, value = term.partition("=")
        value = value[1:] if value.startswith("=") else value   # "a==b" is "a=b"
        if not sep or not key.strip() or key.endswith("!") or "=" in value:
            raise ScaleError(f"unable to parse requirement {term!r} of selector {text!r}")
        out[key.strip()] = value.strip()
    return out
