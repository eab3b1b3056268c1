"""STS operations of the fake AWS server (query protocol, XML responses).

`call(state, action, params, akid)` runs under `state.lock`; returns the XML result body
(inside `<ActionResult>`), or raises StsError(code, message, status).
"""

import base64
import hashlib
import hmac
import json
import time
from xml.sax.saxutils import escape

from .state import ACCOUNT

NS = "https://sts.amazonaws.com/doc/2011-06-15/"


class StsError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def error_xml(code, message, request_id, status):
    kind = "Receiver" if status >= 500 else "Sender"
    return ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s'
            '</Message></Error><RequestId>%s</RequestId></ErrorResponse>'
            % (NS, kind, escape(code), escape(message), request_id))


def response_xml(action, result, request_id):
    return ('<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s'
            '</RequestId></ResponseMetadata></%sResponse>'
            % (action, NS, action, result, action, request_id, action))


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _members(params, prefix):
    out, i = [], 1
    while ("%s.member.%d" % (prefix, i)) in params or \
            ("%s.member.%d.Key" % (prefix, i)) in params:
        out.append(i)
        i += 1
    return out


def _session(state, params, action):
    arn, name = params.get("RoleArn", ""), params.get("RoleSessionName", "")
    if not 20 <= len(arn) <= 2048 or not 2 <= len(name) <= 64:
        raise StsError("ValidationError", "1 validation error detected: RoleArn and "
                       "RoleSessionName are required")
    try:
        duration = int(params.get("DurationSeconds", 3600))
    except ValueError:
        duration = -1
    role = state.roles.get(arn)
    if role is None:
        raise StsError("AccessDenied", "Not authorized to perform sts:%s" % action, 403)
    if not 900 <= duration <= role["max_s"]:
        raise StsError("ValidationError", "The requested DurationSeconds exceeds the "
                       "MaxSessionDuration set for this role.")
    return arn, name, duration, role


def _credentials(state, arn, name, duration):
    role_name = arn.split("/")[-1]
    account = arn.split(":")[4] if arn.count(":") >= 5 else ACCOUNT
    assumed = "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role_name, name)
    akid, cred = state.issue(duration, assumed)
    return ('<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>'
            '<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>'
            '<AssumedRoleUser><AssumedRoleId>AROA%s:%s</AssumedRoleId><Arn>%s</Arn>'
            '</AssumedRoleUser>'
            % (akid, escape(cred["secret"]), escape(cred["token"]), _iso(cred["expires"]),
               akid[4:], escape(name), escape(assumed)))


def assume_role(state, params, info):
    arn, name, duration, role = _session(state, params, "AssumeRole")
    ext = params.get("ExternalId")
    if role["external_id"] is not None and ext != role["external_id"]:
        raise StsError("AccessDenied", "User: %s is not authorized to perform: "
                       "sts:AssumeRole on resource: %s" % (info.get("caller_arn", ""), arn),
                       403)
    tags = {params["Tags.member.%d.Key" % i]: params.get("Tags.member.%d.Value" % i, "")
            for i in _members(params, "Tags")}
    if len(tags) > 50:
        raise StsError("ValidationError", "Tags: at most 50")
    allowed = role["allowed_tags"]
    if allowed is not None and any(k not in allowed for k in tags):
        raise StsError("AccessDenied", "Not authorized to perform sts:TagSession", 403)
    info.update(role_arn=arn, session_name=name, session_tags=tags,
                transitive_tag_keys=[params["TransitiveTagKeys.member.%d" % i]
                                     for i in _members(params, "TransitiveTagKeys")],
                external_id_sent=ext is not None)
    return _credentials(state, arn, name, duration) + "<PackedPolicySize>%d</PackedPolicySize>" \
        % (6 if tags else 0)


def _b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _verify_jwt(state, token):
    bad = StsError("InvalidIdentityToken", "Couldn't verify the web identity token.")
    parts = token.split(".")
    if len(parts) != 3:
        raise bad
    try:
        header, claims = _b64url_json(parts[0]), _b64url_json(parts[1])
        sig = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (ValueError, TypeError):
        raise bad
    want = hmac.new(state.jwt_key.encode(), ("%s.%s" % (parts[0], parts[1])).encode(),
                    hashlib.sha256).digest()
    if header.get("alg") != "HS256" or not hmac.compare_digest(sig, want):
        raise bad
    aud = claims.get("aud")
    if state.audience not in (aud if isinstance(aud, list) else [aud]):
        raise StsError("InvalidIdentityToken", "Incorrect token audience")
    now = state.now()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
        raise StsError("ExpiredTokenException", "Token expired: current date/time %s must "
                       "be before the expiration date/time %s"
                       % (_iso(now), _iso(claims.get("exp") or 0)))
    return claims


def assume_role_with_web_identity(state, params, info):
    token = params.get("WebIdentityToken", "")
    arn, name, duration, role = _session(state, params, "AssumeRoleWithWebIdentity")
    claims = _verify_jwt(state, token)
    sub = str(claims.get("sub", ""))
    if role["subjects"] is not None and sub not in role["subjects"]:
        raise StsError("AccessDenied", "Not authorized to perform "
                       "sts:AssumeRoleWithWebIdentity", 403)
    info.update(role_arn=arn, session_name=name, subject=sub)
    return (_credentials(state, arn, name, duration)
            + "<SubjectFromWebIdentityToken>%s</SubjectFromWebIdentityToken>"
              "<Audience>%s</Audience><Provider>arn:aws:iam::%s:oidc-provider/%s</Provider>"
            % (escape(sub), escape(state.audience), ACCOUNT,
               escape(str(claims.get("iss", "")).split("://")[-1])))


def get_caller_identity(state, params, info):
    arn = info.get("caller_arn", "")
    return "<Arn>%s</Arn><UserId>%s</UserId><Account>%s</Account>" % (
        escape(arn), escape(info.get("access_key_id", "")), ACCOUNT)


OPERATIONS = {"AssumeRole": assume_role,
              "AssumeRoleWithWebIdentity": assume_role_with_web_identity,
              "GetCallerIdentity": get_caller_identity}
UNSIGNED = ("AssumeRoleWithWebIdentity",)


def call(state, action, params, info):
    fn = OPERATIONS.get(action)
    if fn is None:
        raise StsError("InvalidAction", "Could not find operation %s for version 2011-06-15"
                       % action)
    return fn(state, params, info)
