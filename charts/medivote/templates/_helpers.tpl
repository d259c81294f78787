{{/*
Labels of each MediVoteService's metadata: the preset's own two, then helm's. The pod template keeps only the
preset's (a change of release or chart version must not roll the pods).
*/}}
{{- define "medivote.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: medivote
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end }}

{{/*
spec.shutdown.after of one service, as a JSON list: the enabled services before it in stopOrder.services (none
when it is not listed there).
*/}}
{{- define "medivote.after" -}}
{{- $after := list -}}
{{- $order := .root.Values.stopOrder.services -}}
{{- if has .name $order -}}
{{- range $order -}}
{{- if eq . $.name -}}{{- break -}}{{- end -}}
{{- if (get $.root.Values.services .).enabled -}}{{- $after = append $after . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $after -}}
{{- end }}
