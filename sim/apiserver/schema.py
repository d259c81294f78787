"""Structural-schema handling for custom resources: pruning, defaulting and OpenAPI v3 validation.

* `prune(obj, schema)` removes fields the schema does not declare (unless
  x-kubernetes-preserve-unknown-fields) and returns their paths (`spec.colour`, `extraTop`).
* `default(obj, schema)` fills `default` values of missing properties of existing objects.
* `validate(obj, schema)` returns a list of Causes, messages as the apiextensions validator words them.
"""
import re

from .errors import Cause, gojson, not_supported, required

# Top-level fields every object may carry, outside the CRD schema.
_TOP = {"apiVersion", "kind", "metadata"}


def _type_name(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _join(path, k):
    return f"{path}.{k}" if path else k


def prune(obj, schema, path="", top=True):
    dropped = []
    if not isinstance(obj, dict) or not isinstance(schema, dict):
        if isinstance(obj, list) and isinstance(schema, dict) and "items" in schema:
            for i, it in enumerate(obj):
                dropped += prune(it, schema["items"], f"{path}[{i}]", False)
        return dropped
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return dropped
    props = schema.get("properties") or {}
    addl = schema.get("additionalProperties")
    for k in list(obj):
        if top and k in _TOP:
            continue
        if k in props:
            dropped += prune(obj[k], props[k], _join(path, k), False)
        elif isinstance(addl, dict):
            dropped += prune(obj[k], addl, _join(path, k), False)
        elif addl is True or schema.get("x-kubernetes-preserve-unknown-fields"):
            continue
        else:
            del obj[k]
            dropped.append(_join(path, k))
    return dropped


def default(obj, schema):
    if isinstance(obj, dict) and isinstance(schema, dict):
        for k, sub in (schema.get("properties") or {}).items():
            if k not in obj and "default" in sub:
                obj[k] = sub["default"]
            if k in obj:
                default(obj[k], sub)
    elif isinstance(obj, list) and isinstance(schema, dict) and "items" in schema:
        for it in obj:
            default(it, schema["items"])


def validate(obj, schema, path="", top=True):
    causes = []
    if not isinstance(schema, dict):
        return causes
    t = schema.get("type")
    if obj is None:
        if schema.get("nullable"):
            return causes
        if t:
            causes.append(Cause(path, "FieldValueTypeInvalid",
                                f"Invalid value: \"null\": {path} in body must be of type {t}: \"null\""))
        return causes
    actual = _type_name(obj)
    if t and not (actual == t or (t == "number" and actual == "integer")):
        if not (schema.get("x-kubernetes-int-or-string") and actual in ("integer", "string")):
            causes.append(Cause(path, "FieldValueTypeInvalid",
                                f"Invalid value: {gojson(actual)}: {path} in body must be of type {t}: {gojson(actual)}"))
            return causes
    if "enum" in schema and obj not in schema["enum"]:
        causes.append(not_supported(path, obj, schema["enum"]))
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        if "minimum" in schema:
            lo = schema["minimum"]
            if obj < lo or (schema.get("exclusiveMinimum") and obj == lo):
                word = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
                causes.append(Cause(path, "FieldValueInvalid",
                                    f"Invalid value: {gojson(obj)}: {path} in body should be {word} {lo}"))
        if "maximum" in schema:
            hi = schema["maximum"]
            if obj > hi or (schema.get("exclusiveMaximum") and obj == hi):
                word = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
                causes.append(Cause(path, "FieldValueInvalid",
                                    f"Invalid value: {gojson(obj)}: {path} in body should be {word} {hi}"))
    if isinstance(obj, str):
        if "maxLength" in schema and len(obj) > schema["maxLength"]:
            causes.append(Cause(path, "FieldValueTooLong", f"Too long: may not be longer than {schema['maxLength']}"))
        if "minLength" in schema and len(obj) < schema["minLength"]:
            causes.append(Cause(path, "FieldValueInvalid",
                                f"Invalid value: {gojson(obj)}: {path} in body should be at least "
                                f"{schema['minLength']} chars long"))
        if "pattern" in schema and not re.search(schema["pattern"], obj):
            causes.append(Cause(path, "FieldValueInvalid",
                                f"Invalid value: {gojson(obj)}: {path} in body should match '{schema['pattern']}'"))
    if isinstance(obj, list):
        if "maxItems" in schema and len(obj) > schema["maxItems"]:
            causes.append(Cause(path, "FieldValueTooMany", f"Too many: {len(obj)}: must have at most "
                                f"{schema['maxItems']} items"))
        if "minItems" in schema and len(obj) < schema["minItems"]:
            causes.append(Cause(path, "FieldValueInvalid", f"Invalid value: {len(obj)}: {path} in body should "
                                f"have at least {schema['minItems']} items"))
        for i, it in enumerate(obj):
            causes += validate(it, schema.get("items") or {}, f"{path}[{i}]", False)
    if isinstance(obj, dict):
        for r in schema.get("required") or []:
            if r not in obj:
                causes.append(required(_join(path, r)))
        props = schema.get("properties") or {}
        for k, v in obj.items():
            if top and k in _TOP:
                continue
            if k in props:
                causes += validate(v, props[k], _join(path, k), False)
            elif isinstance(schema.get("additionalProperties"), dict):
                causes += validate(v, schema["additionalProperties"], _join(path, k), False)
    return causes
