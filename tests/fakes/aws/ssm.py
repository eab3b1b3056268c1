"""SSM Parameter Store operations of the fake AWS server (JSON 1.1, X-Amz-Target
`AmazonSSM.<Op>`, SigV4 service `ssm`).

`call(state, op, body)` runs one operation under `state.lock` and returns the response dict,
or raises SsmError(code, message, status). Parameters live in `state.parameters` (Parameter,
state.py). Contract: tests/fakes/AWS_FAKE_API.md, section "Parameter Store".
"""

import base64
import hashlib
import json

from .secretsmanager import SmError


class SsmError(SmError):
    """An SSM error reply: HTTP 400 `{"__type": code, "message": ...}` unless status says."""


def _invalid(msg):
    return SsmError("ValidationException", msg)


def _not_found(name):
    return SsmError("ParameterNotFound", "Parameter %s not found." % name)


def _split_selector(raw):
    """"name" or "name:N" -> (name, N or None)."""
    if not isinstance(raw, str) or not raw:
        raise _invalid("1 validation error detected: Value null at 'name' failed to satisfy "
                       "constraint: Member must not be null")
    base, sep, tail = raw.rpartition(":")
    if sep and base and tail.isdigit() and not raw.startswith("arn:"):
        return base, int(tail)
    return raw, None


def _ciphertext(param, version):
    digest = hashlib.sha256(("%s:%d:%s" % (param.name, version["n"], version["value"]))
                            .encode()).digest()
    return "AQICAHh" + base64.b64encode(digest * 3).decode()


def _resolve(state, raw):
    """(Parameter, version dict) for "name" or "name:N"; raises ParameterNotFound or
    ParameterVersionNotFound."""
    name, number = _split_selector(raw)
    param = state.parameters.get(name)
    if param is None:
        raise _not_found(raw)
    if number is None:
        return param, param.versions[-1], raw
    for ver in param.versions:
        if ver["n"] == number:
            return param, ver, raw
    raise SsmError("ParameterVersionNotFound", "Systems Manager could not find version %d of "
                   "%s. Verify the version and try again." % (number, name))


def _value(param, ver, decrypt, selector=None):
    value = ver["value"]
    if param.type == "SecureString" and not decrypt:
        value = _ciphertext(param, ver)
    out = {"Name": param.name, "Type": param.type, "Value": value, "Version": ver["n"],
           "ARN": param.arn, "LastModifiedDate": ver["modified"], "DataType": "text"}
    if selector is not None and selector != param.name:
        out["Selector"] = selector[len(param.name):]
    return out


def _metadata(param):
    ver = param.versions[-1]
    return {"Name": param.name, "ARN": param.arn, "Type": param.type,
            "LastModifiedDate": ver["modified"], "Version": ver["n"], "DataType": "text",
            "Tier": "Standard", "Policies": [],
            "LastModifiedUser": "arn:aws:iam::111122223333:user/fake"}


def _bool(body, key):
    val = body.get(key, False)
    if not isinstance(val, bool):
        raise _invalid("%s must be a boolean." % key)
    return val


def _limit(body, default, top):
    limit = body.get("MaxResults", default)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= top:
        raise _invalid("1 validation error detected: Value '%s' at 'maxResults' failed to "
                       "satisfy constraint: Member must have value less than or equal to %d"
                       % (limit, top))
    return limit


def _page(items, body, default, top):
    limit = _limit(body, default, top)
    token, start = body.get("NextToken"), 0
    if token is not None:
        try:
            start = int(json.loads(base64.b64decode(token, validate=True))["ssm_offset"])
        except (ValueError, TypeError, KeyError):
            raise SsmError("InvalidNextToken", "The specified token isn't valid.")
    page = items[start:start + limit]
    nxt = None
    if start + limit < len(items):
        nxt = base64.b64encode(json.dumps({"ssm_offset": start + limit}).encode()).decode()
    return page, nxt


def _under(name, path, recursive):
    """Whether parameter `name` lies below hierarchy `path` (one level unless recursive)."""
    prefix = "/" if path == "/" else path.rstrip("/") + "/"
    if not name.startswith(prefix) or len(name) == len(prefix):
        return False
    return recursive or "/" not in name[len(prefix):]


def _check_path(path):
    if not isinstance(path, str) or not path.startswith("/"):
        raise _invalid("The parameter doesn't meet the parameter name requirements. The "
                       "parameter name must begin with a forward slash \"/\".")
    return path


def get_parameter(state, body):
    param, ver, sel = _resolve(state, body.get("Name"))
    return {"Parameter": _value(param, ver, _bool(body, "WithDecryption"), sel)}


def get_parameters(state, body):
    names = body.get("Names")
    if not isinstance(names, list) or not 1 <= len(names) <= 10 or \
            not all(isinstance(n, str) and n for n in names):
        raise _invalid("1 validation error detected: Value at 'names' failed to satisfy "
                       "constraint: Member must have length between 1 and 10")
    decrypt = _bool(body, "WithDecryption")
    found, invalid = [], []
    for raw in dict.fromkeys(names):
        try:
            param, ver, sel = _resolve(state, raw)
            found.append(_value(param, ver, decrypt, sel))
        except SsmError:
            invalid.append(raw)
    return {"Parameters": found, "InvalidParameters": invalid}


def get_parameters_by_path(state, body):
    path = _check_path(body.get("Path"))
    recursive, decrypt = _bool(body, "Recursive"), _bool(body, "WithDecryption")
    if body.get("ParameterFilters"):
        raise _invalid("ParameterFilters are not supported by this fake.")
    items = [p for n, p in sorted(state.parameters.items()) if _under(n, path, recursive)]
    page, nxt = _page(items, body, 10, 10)
    out = {"Parameters": [_value(p, p.versions[-1], decrypt) for p in page]}
    if nxt:
        out["NextToken"] = nxt
    return out


def _filter_match(param, flt):
    key, option, values = flt.get("Key"), flt.get("Option"), flt.get("Values")
    if not isinstance(key, str) or not isinstance(values, (list, type(None))):
        raise _invalid("Invalid parameter filter: %s" % json.dumps(flt))
    values = values or []
    if key == "Path":
        option = option or "OneLevel"
        if option not in ("Recursive", "OneLevel") or len(values) != 1:
            raise _invalid("The following filter option is not valid: %s. Valid options "
                           "include: [Recursive, OneLevel]." % option)
        return _under(param.name, _check_path(values[0]), option == "Recursive")
    if key == "Name":
        option = option or "Equals"
        if option not in ("Equals", "BeginsWith", "Contains") or not values:
            raise _invalid("The following filter option is not valid: %s. Valid options "
                           "include: [BeginsWith, Equals, Contains]." % option)
        test = {"Equals": lambda v: param.name == v,
                "BeginsWith": lambda v: param.name.startswith(v),
                "Contains": lambda v: v in param.name}[option]
        return any(test(v) for v in values)
    if key.startswith("tag:") and len(key) > 4:
        if (option or "Equals") != "Equals":
            raise _invalid("The following filter option is not valid: %s. Valid options "
                           "include: [Equals]." % option)
        tags = {t["Key"]: t["Value"] for t in param.tags}
        if key[4:] not in tags:
            return False
        return not values or tags[key[4:]] in values
    if key == "Type":
        return param.type in values
    raise _invalid("The following filter key is not valid: %s. Valid filter keys include: "
                   "[Path, Name, Type, KeyId, Tier, tag:<key>]." % key)


def describe_parameters(state, body):
    filters = body.get("ParameterFilters") or []
    if not isinstance(filters, list) or len(filters) > 50 or \
            not all(isinstance(f, dict) for f in filters):
        raise _invalid("ParameterFilters must be a list of at most 50 filters.")
    items = [p for _, p in sorted(state.parameters.items())
             if all(_filter_match(p, f) for f in filters)]
    page, nxt = _page(items, body, 50, 50)
    out = {"Parameters": [_metadata(p) for p in page]}
    if nxt:
        out["NextToken"] = nxt
    return out


def list_tags_for_resource(state, body):
    if body.get("ResourceType") != "Parameter":
        raise _invalid("This fake only supports ResourceType Parameter.")
    rid = body.get("ResourceId")
    param = state.parameters.get(rid) if isinstance(rid, str) else None
    if param is None:
        raise SsmError("InvalidResourceId", "The resource ID \"%s\" is not valid. Verify the "
                       "ID and try again." % rid)
    return {"TagList": [dict(t) for t in param.tags]}


OPERATIONS = {"GetParameter": get_parameter, "GetParameters": get_parameters,
              "GetParametersByPath": get_parameters_by_path,
              "DescribeParameters": describe_parameters,
              "ListTagsForResource": list_tags_for_resource}


def call(state, op, body):
    fn = OPERATIONS.get(op)
    if fn is None:
        raise SsmError("UnknownOperationException", "")
    if not isinstance(body, dict):
        raise SsmError("SerializationException", "Start of structure or map found where not "
                       "expected.")
    return fn(state, body)
