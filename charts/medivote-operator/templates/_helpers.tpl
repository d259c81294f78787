{{/*
Labels of every object the chart renders. No app.kubernetes.io/managed-by: the operator reserves
app.kubernetes.io/managed-by=medivote-operator for the pods it manages, and deploy/ is rendered from this chart.
*/}}
{{- define "medivote-operator.labels" -}}
app.kubernetes.io/name: medivote-operator
app.kubernetes.io/part-of: medivote-operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/*
Labels that select the operator's pods (Deployment selector, Service, PDB, NetworkPolicy peers). Immutable in a
Deployment: never change them.
*/}}
{{- define "medivote-operator.selectorLabels" -}}
app.kubernetes.io/name: medivote-operator
app.kubernetes.io/component: controller
{{- end }}
