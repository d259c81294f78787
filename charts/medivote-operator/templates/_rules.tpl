{{/*
The operator's permissions on what it manages (used by the ClusterRole, or by the Role in namespace-scoped mode).
Each rule is a request the operator makes; tests/packaging/test_rbac.py fails on a missing or an unused one.
*/}}
{{- define "medivote-operator.rules" }}
rules:
# MediVoteServices: informer (list, watch); the finalizer is added and removed with a merge patch conditional on
# the resourceVersion.
- apiGroups: ["medivote.io"]
  resources: ["medivoteservices"]
  verbs: ["list", "watch", "patch"]
# The status (replicas, conditions, shutdown history) is written with an update of /status.
- apiGroups: ["medivote.io"]
  resources: ["medivoteservices/status"]
  verbs: ["update"]
# Pods: informer (list, watch); created per ordinal; re-read before a replacement; annotated with the shutdown
# stage (patch); deleted with the grace period of their tier.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The Service of each MediVoteService: informer, created, patched (selector, ports).
- apiGroups: [""]
  resources: ["services"]
  verbs: ["list", "watch", "create", "patch"]
# EndpointSlices of those Services: informer (list, watch); the Draining stage waits until a pod has left them.
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["list", "watch"]
# One claim per ordinal from volumeClaimTemplates, created once and never deleted (like a StatefulSet's). One that
# exists already (create answered 409) is read by name: another MediVoteService's (or controller's) is never mounted.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "create"]
# The bearer token of a shutdown endpoint: the Secret of spec.shutdown.endpoint.tokenSecretRef, read by name; for
# reach agent without one, the operator's own <mvs>-agent-token, created once (never updated: a deleted one is
# created again; the garbage collector deletes it with its MediVoteService). No list or watch.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create"]
# core/v1 Events about MediVoteServices and pods; a repeated event is patched (count, lastTimestamp).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
