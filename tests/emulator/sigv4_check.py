"""Server-side verification of AWS SigV4 (and Bedrock API-key bearer) auth.

The signature is recomputed with botocore, an implementation independent of
the Rust signer under test: we rebuild an AWSRequest from exactly what arrived
(method, raw path, the headers named in SignedHeaders, raw body) and ask
botocore.auth.SigV4Auth for canonical_request / string_to_sign / signature.

Two deliberate deviations from plain botocore behaviour, both to match what
the AWS front end does rather than what the botocore *client* does:
  * headers_to_sign is exactly the client's SignedHeaders list (botocore would
    silently drop e.g. user-agent, which AWS accepts when signed);
  * the query string is decoded and re-encoded (AWS canonicalises the
    parameters it received, it does not trust the client's encoding).
The path is used raw, so botocore applies the second ("double") encoding that
non-S3 services use: /model/a%3A0/converse -> canonical /model/a%253A0/converse.
"""

import datetime
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from aws_errors import AwsError

SERVICE = "bedrock"
MAX_SKEW = datetime.timedelta(minutes=5)
SIG_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass
class AuthConfig:
    access_key: str
    secret_key: str
    session_token: str | None
    region: str
    api_keys: frozenset


@dataclass
class AuthResult:
    kind: str  # "sigv4" | "bearer" | "none"
    error: AwsError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _ExactSignedHeadersAuth(SigV4Auth):
    """SigV4Auth that signs exactly the header names the client listed."""

    def __init__(self, credentials, service, region, signed_names):
        super().__init__(credentials, service, region)
        self._signed_names = signed_names

    def headers_to_sign(self, request):
        out = HTTPHeaders()
        for name in self._signed_names:
            for value in request.headers.get_all(name) or []:
                out[name] = value  # HTTPHeaders appends, keeping repeats
        return out


def _forbidden(error_type, message, detail=""):
    return AwsError(403, error_type, message, detail)


def _parse_authorization(value):
    scheme, _, rest = value.partition(" ")
    fields = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            fields[k.strip()] = v.strip()
    return scheme, fields


def _normalized_query_params(raw_query):
    params = []
    for pair in raw_query.split("&"):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        params.append((unquote(k), unquote(v)))
    return params


def authenticate(cfg: AuthConfig, method, raw_target, headers, body: bytes, now=None) -> AuthResult:
    """headers: list of (name, value) exactly as received (any case)."""
    lower = {}
    for name, value in headers:
        lower.setdefault(name.lower(), []).append(value)

    def first(name):
        vals = lower.get(name)
        return vals[0] if vals else None

    auth = first("authorization")
    if not auth:
        return AuthResult("none", _forbidden("MissingAuthenticationTokenException", "Missing Authentication Token"))

    if auth.lower().startswith("bearer "):
        key = auth[7:].strip()
        if key and any(hmac.compare_digest(key, k) for k in cfg.api_keys):
            return AuthResult("bearer")
        return AuthResult("bearer", _forbidden("UnrecognizedClientException", "The bearer token included in the request is invalid."))

    scheme, fields = _parse_authorization(auth)
    if scheme != "AWS4-HMAC-SHA256":
        return AuthResult("none", _forbidden("IncompleteSignatureException", f"Unsupported Authorization Type: '{scheme}'"))
    missing = [p for p in ("Credential", "Signature", "SignedHeaders") if p not in fields]
    if missing:
        msg = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
        return AuthResult("sigv4", _forbidden("IncompleteSignatureException", msg))

    amz_date = first("x-amz-date")
    if not amz_date:
        return AuthResult("sigv4", _forbidden(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."))
    try:
        req_time = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return AuthResult("sigv4", _forbidden("IncompleteSignatureException", f"Invalid X-Amz-Date: '{amz_date}'"))

    cred = fields["Credential"].split("/")
    if len(cred) != 5:
        return AuthResult("sigv4", _forbidden(
            "IncompleteSignatureException",
            f"Credential should have exactly 5 parts (access key/date/region/service/aws4_request), got {len(cred)}."))
    access_key, scope_date, scope_region, scope_service, terminator = cred
    if not hmac.compare_digest(access_key, cfg.access_key):
        return AuthResult("sigv4", _forbidden("UnrecognizedClientException", INVALID_TOKEN))

    token = first("x-amz-security-token")
    signed_names = [n.strip().lower() for n in fields["SignedHeaders"].split(";") if n.strip()]
    if cfg.session_token:
        if token is None or not hmac.compare_digest(token, cfg.session_token):
            return AuthResult("sigv4", _forbidden("UnrecognizedClientException", INVALID_TOKEN))
        if "x-amz-security-token" not in signed_names:
            return AuthResult("sigv4", _forbidden(
                "InvalidSignatureException",
                "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."))
    elif token is not None:
        # A token for long-term keys is unknown to AWS too.
        return AuthResult("sigv4", _forbidden("UnrecognizedClientException", INVALID_TOKEN))

    if scope_service != SERVICE:
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'. "))
    if scope_region != cfg.region:
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException", "Credential should be scoped to a valid region. "))
    if terminator != "aws4_request":
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException",
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "))
    if scope_date != amz_date[:8]:
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."))
    if "host" not in signed_names:
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."))

    now = now or datetime.datetime.now(datetime.timezone.utc)
    fmt = "%Y%m%dT%H%M%SZ"
    if req_time < now - MAX_SKEW:
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(fmt)} "
            f"({now.strftime(fmt)} - 5 min.)"))
    if req_time > now + MAX_SKEW:
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {(now + MAX_SKEW).strftime(fmt)} "
            f"({now.strftime(fmt)} + 5 min.)"))

    content_sha = first("x-amz-content-sha256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        return AuthResult("sigv4", _forbidden(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed."))

    path, _, query = raw_target.partition("?")
    host = first("host") or ""
    req = AWSRequest(method=method, url="https://" + host + path, data=body,
                     params=_normalized_query_params(query))
    for name in signed_names:
        for value in lower.get(name, []):
            req.headers[name] = value
    req.context["timestamp"] = amz_date

    signer = _ExactSignedHeadersAuth(
        Credentials(cfg.access_key, cfg.secret_key, cfg.session_token), SERVICE, cfg.region, signed_names)
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    expected = signer.signature(sts, req)
    if not hmac.compare_digest(expected, fields["Signature"]):
        detail = f"canonical request:\n{canonical}\n\nstring to sign:\n{sts}"
        # AWS's JSON services echo what they expected, signed header values included (an
        # x-amz-security-token too): aws/aws-sdk-js#168, aws/aws-sdk-cpp#17.
        echoed = (f"{SIG_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                  f"The String-to-Sign should have been\n'{sts}'\n")
        return AuthResult("sigv4", _forbidden("InvalidSignatureException", echoed, detail))
    return AuthResult("sigv4")
