"""Kubernetes `Status` error bodies and the exception that carries them to the HTTP layer."""
import json


class ApiError(Exception):
    """An error answered as a v1 Status with `code` as the HTTP status.

    `body` is the full Status dict; `headers` are extra response headers (e.g. Retry-After).
    `plain` answers text/plain instead of JSON (used for the real server's `404 page not found`)."""

    def __init__(self, code, reason, message, details=None, headers=None, plain=None, metadata=None):
        super().__init__(message)
        self.code = code
        self.headers = headers or {}
        self.plain = plain
        body = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {}, "status": "Failure",
                "message": message, "reason": reason}
        if details is not None:
            body["details"] = details
        body["code"] = code
        self.body = body


def _details(rt, name, kind=None, **extra):
    d = {}
    if name:
        d["name"] = name
    if rt is not None and rt.group:
        d["group"] = rt.group
    d["kind"] = kind if kind is not None else (rt.plural if rt is not None else "")
    d.update(extra)
    return d


def qualified(rt):
    """`pods` or `medivoteservices.medivote.io`, as in NotFound/Conflict messages."""
    return rt.plural if not rt.group else f"{rt.plural}.{rt.group}"


def kind_qualified(rt, kind=None):
    """`Pod` or `MediVoteService.medivote.io`, as in Invalid messages."""
    k = kind or rt.kind
    return k if not rt.group else f"{k}.{rt.group}"


def not_found(rt, name):
    return ApiError(404, "NotFound", f'{qualified(rt)} "{name}" not found', _details(rt, name))


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists", f'{qualified(rt)} "{name}" already exists', _details(rt, name))


def conflict(rt, name):
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified(rt)} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again", _details(rt, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def internal(message):
    return ApiError(500, "InternalError", message, {"causes": [{"message": message}]})


def page_not_found():
    return ApiError(404, "NotFound", "404 page not found", plain="404 page not found\n")


class Cause:
    """One field error: reason (FieldValueInvalid...), message, field path."""

    def __init__(self, field, reason, message):
        self.field, self.reason, self.message = field, reason, message

    def text(self):
        return f"{self.field}: {self.message}"


def required(field, detail=""):
    return Cause(field, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def gojson(v):
    """Render a value the way Go's %q / field errors print it."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def invalid_value(field, value, detail):
    return Cause(field, "FieldValueInvalid", f"Invalid value: {gojson(value)}: {detail}")


def forbidden(field, detail):
    return Cause(field, "FieldValueForbidden", f"Forbidden: {detail}")


def not_supported(field, value, allowed):
    vals = ", ".join(gojson(a) for a in allowed)
    return Cause(field, "FieldValueNotSupported", f"Unsupported value: {gojson(value)}: supported values: {vals}")


def invalid(rt, name, causes, kind=None):
    """422 Invalid with one cause per field error, as the real server renders an ErrorList."""
    texts = [c.text() for c in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    k = kind or rt.kind
    details = {}
    if name:
        details["name"] = name
    if rt.group:
        details["group"] = rt.group
    details["kind"] = k
    details["causes"] = [{"reason": c.reason, "message": c.message, "field": c.field} for c in causes]
    return ApiError(422, "Invalid", f'{kind_qualified(rt, k)} "{name or ""}" is invalid: {summary}', details)
