"""Query-string values as kube-apiserver reads them.

Source: k8s.io/apimachinery/pkg/runtime/conversion.go `Convert_Slice_string_To_bool` (used by the parameter codec for
every boolean of ListOptions, DeleteOptions, ...): absent is false; "0" and "false" (any case) are false; every other
value, "True" and "" included, is true. `watch` is read by RequestInfoFactory (k8s.io/apiserver/pkg/endpoints/request/
requestinfo.go) the same way: any value but false/0 makes a GET a watch.
"""


def query_bool(q, name):
    """The boolean query parameter `name` of the multidict `q`, as the real server converts it."""
    if name not in q:
        return False
    v = q.getall(name)[0] if hasattr(q, "getall") else q[name]
    return not (v == "0" or v.lower() == "false")
