"""Label and field selectors, parsed the way the apimachinery parsers accept them.

`parse_labels(s)` returns a predicate on a labels dict; `parse_fields(s, rt)` a predicate on an object.
Both raise ApiError 400 with the real server's messages on malformed or unsupported input."""
import re

from .errors import bad_request

_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s=!(),]+)")


def _tokens(s):
    out, pos = [], 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            break
        if m.group(1):
            out.append(m.group(1))
        pos = m.end()
        if s[pos:].strip() == "":
            break
    return out


def parse_labels(s):
    """Return a predicate(labels) for a labelSelector string (=, ==, !=, in, notin, exists, !key)."""
    if not s or not s.strip():
        return lambda labels: True
    toks = _tokens(s)
    reqs, i = [], 0

    def expect_value(i):
        if i >= len(toks) or toks[i] in ("=", "==", "!=", ",", "(", ")", "!"):
            return "", i
        return toks[i], i + 1

    while i < len(toks):
        neg = False
        if toks[i] == "!":
            neg, i = True, i + 1
        if i >= len(toks):
            raise bad_request("found '', expected: identifier")
        key = toks[i]
        i += 1
        if neg:
            reqs.append(("!exists", key, None))
        elif i >= len(toks) or toks[i] == ",":
            reqs.append(("exists", key, None))
        elif toks[i] in ("=", "==", "!="):
            op = "!=" if toks[i] == "!=" else "="
            val, i = expect_value(i + 1)
            reqs.append((op, key, val))
        elif toks[i] in ("in", "notin"):
            op = toks[i]
            i += 1
            if i >= len(toks) or toks[i] != "(":
                raise bad_request(f"found '{toks[i] if i < len(toks) else ''}', expected: '('")
            i += 1
            vals = []
            while i < len(toks) and toks[i] != ")":
                if toks[i] != ",":
                    vals.append(toks[i])
                i += 1
            if i >= len(toks):
                raise bad_request("found '', expected: ')'")
            i += 1
            reqs.append((op, key, set(vals)))
        else:
            raise bad_request(f"found '{toks[i]}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            if toks[i] != ",":
                raise bad_request(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1

    def pred(labels):
        labels = labels or {}
        for op, k, v in reqs:
            if op == "exists" and k not in labels:
                return False
            if op == "!exists" and k in labels:
                return False
            if op == "=" and labels.get(k) != v:
                return False
            if op == "!=" and k in labels and labels[k] == v:
                return False
            if op == "in" and labels.get(k) not in v:
                return False
            if op == "notin" and k in labels and labels[k] in v:
                return False
        return True
    return pred


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_fields(s, rt):
    """Return a predicate(obj) for a fieldSelector (=, ==, != on the resource's supported fields)."""
    if not s or not s.strip():
        return lambda obj: True
    reqs = []
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
        key, op, val = m.group(1), m.group(2), m.group(3)
        if key not in rt.fields:
            raise bad_request(f"field label not supported: {key}")
        reqs.append((key, op != "!=", val))

    def pred(obj):
        for key, eq, val in reqs:
            if (field_value(obj, key) == val) != eq:
                return False
        return True
    return pred


def match_label_selector(sel, labels):
    """Match a metav1.LabelSelector dict (matchLabels/matchExpressions) against labels."""
    if sel is None:
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def selector_string(sel):
    """Render a LabelSelector as a selector string (for Scale.status.selector)."""
    parts = [f"{k}={v}" for k, v in sorted((sel or {}).get("matchLabels", {}).items())]
    return ",".join(parts)
