"""Secrets Manager operations of the fake AWS server (JSON 1.1 protocol).

`call(state, op, body)` runs one operation under `state.lock` and returns the response
dict, or raises SmError(code, message, status). Contract: tests/fakes/AWS_FAKE_API.md.
"""

import base64
import json

NOT_FOUND = "Secrets Manager can't find the specified secret."
DELETED = ("You can't perform this operation on the secret because it was marked for "
           "deletion.")


class SmError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _param(msg):
    return SmError("InvalidParameterException", msg)


def _lookup(state, secret_id, allow_deleted=False):
    if not isinstance(secret_id, str) or not secret_id:
        raise _param("You must specify a SecretId.")
    sec = state.find(secret_id)
    if sec is None:
        raise SmError("ResourceNotFoundException", NOT_FOUND)
    if sec.deleted is not None and not allow_deleted:
        raise SmError("InvalidRequestException", DELETED)
    return sec


def _value(sec, version_id=None, stage=None):
    if version_id is not None:
        ver = sec.versions.get(version_id)
        if ver is None or (stage is not None and stage not in ver["stages"]):
            raise SmError("ResourceNotFoundException", "Secrets Manager can't find the "
                          "specified secret value for VersionId: %s" % version_id)
        vid = version_id
    else:
        stage = stage or "AWSCURRENT"
        match = [k for k, v in sec.versions.items() if stage in v["stages"]]
        if not match:
            raise SmError("ResourceNotFoundException", "Secrets Manager can't find the "
                          "specified secret value for staging label: %s" % stage)
        vid, ver = match[0], sec.versions[match[0]]
    out = {"ARN": sec.arn, "Name": sec.name, "VersionId": vid,
           "VersionStages": sorted(ver["stages"]), "CreatedDate": ver["created"]}
    if "binary" in ver:
        out["SecretBinary"] = base64.b64encode(ver["binary"]).decode()
    else:
        out["SecretString"] = ver["string"]
    return out


def _describe(sec, map_name):
    out = {"ARN": sec.arn, "Name": sec.name, "CreatedDate": sec.created,
           "LastChangedDate": sec.changed, map_name: sec.stage_map()}
    if sec.tags:
        out["Tags"] = [dict(t) for t in sec.tags]
    if sec.description is not None:
        out["Description"] = sec.description
    if sec.deleted is not None:
        out["DeletedDate"] = sec.deleted
    return out


def get_secret_value(state, body):
    sec = _lookup(state, body.get("SecretId"))
    return _value(sec, body.get("VersionId"), body.get("VersionStage"))


def describe_secret(state, body):
    return _describe(_lookup(state, body.get("SecretId"), True), "VersionIdsToStages")


def _filter_match(sec, flt):
    key, values = flt.get("Key"), flt.get("Values")
    if key not in ("name", "tag-key", "tag-value", "description", "all") or \
            not isinstance(values, list) or not 1 <= len(values) <= 10:
        raise _param("Invalid filter: %s" % json.dumps(flt))
    tag_keys = [t["Key"] for t in sec.tags]
    tag_values = [t["Value"] for t in sec.tags]
    for raw in values:
        neg, val = (True, raw[1:]) if raw.startswith("!") else (False, raw)
        if key == "name":
            hit = sec.name.startswith(val)
        elif key == "tag-key":
            hit = any(k.startswith(val) for k in tag_keys)
        elif key == "tag-value":
            hit = any(v.startswith(val) for v in tag_values)
        elif key == "description":
            hit = (sec.description or "").lower().startswith(val.lower())
        else:
            words = [sec.name, sec.description or ""] + tag_keys + tag_values
            hit = any(val.lower() in w.lower() for w in words)
        if hit != neg:
            return True
    return False


def _select(state, filters, include_deleted, sort_by=None, order=None):
    state.purge()
    if not isinstance(filters or [], list) or len(filters or []) > 10:
        raise _param("Filters must be a list of at most 10 entries.")
    out = [s for s in state.secrets.values()
           if (include_deleted or s.deleted is None)
           and all(_filter_match(s, f) for f in filters or [])]
    out.sort(key=(lambda s: s.name) if sort_by == "name" else (lambda s: s.seq),
             reverse=(order == "desc"))
    return out


def _page(items, body, max_default, max_limit):
    token = body.get("NextToken")
    start = 0
    if token is not None:
        try:
            start = int(json.loads(base64.b64decode(token))["offset"])
        except (ValueError, TypeError, KeyError):
            raise SmError("InvalidNextTokenException", "The NextToken value is invalid.")
    limit = body.get("MaxResults", max_default)
    if not isinstance(limit, int) or not 1 <= limit <= max_limit:
        raise _param("MaxResults must be between 1 and %d." % max_limit)
    page = items[start:start + limit]
    nxt = None
    if start + limit < len(items):
        nxt = base64.b64encode(json.dumps({"offset": start + limit}).encode()).decode()
    return page, nxt


def list_secrets(state, body):
    items = _select(state, body.get("Filters"), bool(body.get("IncludePlannedDeletion")),
                    body.get("SortBy"), body.get("SortOrder"))
    page, nxt = _page(items, body, 100, 100)
    out = {"SecretList": [_describe(s, "SecretVersionsToStages") for s in page]}
    if nxt:
        out["NextToken"] = nxt
    return out


def batch_get_secret_value(state, body):
    ids, filters = body.get("SecretIdList"), body.get("Filters")
    if (ids is None) == (filters is None):
        raise _param("Either SecretIdList or Filters must be specified, but not both.")
    values, errors, out = [], [], {}
    if ids is not None:
        if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
            raise _param("SecretIdList must contain between 1 and 20 entries.")
        if "MaxResults" in body:
            raise _param("MaxResults can only be used with Filters.")
        for sid in ids:
            try:
                values.append(_value(_lookup(state, sid)))
            except SmError as e:
                errors.append({"SecretId": sid, "ErrorCode": e.code, "Message": e.message})
    else:
        page, nxt = _page(_select(state, filters, False), body, 20, 20)
        values = [_value(s) for s in page]
        if nxt:
            out["NextToken"] = nxt
    out.update(SecretValues=values, Errors=errors)
    return out


OPERATIONS = {"GetSecretValue": get_secret_value, "DescribeSecret": describe_secret,
              "ListSecrets": list_secrets, "BatchGetSecretValue": batch_get_secret_value}


def call(state, op, body):
    fn = OPERATIONS.get(op)
    if fn is None:
        raise SmError("UnknownOperationException", "")
    if not isinstance(body, dict):
        raise SmError("SerializationException", "Start of structure or map found where not "
                      "expected.")
    return fn(state, body)
