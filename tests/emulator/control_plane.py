"""Bedrock control-plane reads (bedrock.REGION.amazonaws.com in AWS).

Shapes and query parameter names follow botocore's `bedrock` service model
(2023-04-20): ListInferenceProfiles' typeEquals member is sent on the wire as
the `type` query parameter (we also accept `typeEquals`).
"""

import base64
import json
import re

import catalog
from aws_errors import AwsError, coral_validation, validation

_MODALITIES = ("TEXT", "IMAGE", "EMBEDDING")
_INFERENCE = ("ON_DEMAND", "PROVISIONED")
_CUSTOM = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION")


def _one(query, *names):
    for n in names:
        if n in query:
            return query[n][-1]
    return None


def list_foundation_models(query, region):
    out_mod = _one(query, "byOutputModality")
    inf_type = _one(query, "byInferenceType")
    provider = _one(query, "byProvider")
    custom = _one(query, "byCustomizationType")
    if out_mod is not None and out_mod not in _MODALITIES:
        raise coral_validation("byOutputModality", "Member must satisfy enum value set: [TEXT, IMAGE, EMBEDDING]", out_mod)
    if inf_type is not None and inf_type not in _INFERENCE:
        raise coral_validation("byInferenceType", "Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]", inf_type)
    if custom is not None and custom not in _CUSTOM:
        raise coral_validation("byCustomizationType",
                               "Member must satisfy enum value set: [FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION]",
                               custom)
    out = []
    for m in catalog.MODELS:
        if out_mod and out_mod not in m.outputs:
            continue
        if inf_type and inf_type not in m.inference_types:
            continue
        if provider and provider.lower() not in (m.provider.lower(), m.model_id.split(".")[0]):
            continue
        if custom and custom not in m.customizations:
            continue
        out.append(catalog.foundation_summary(m, region))
    return {"modelSummaries": out}


def get_foundation_model(identifier, region):
    mid = identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier
    m = catalog.BY_ID.get(mid)
    if not m:
        raise AwsError(404, "ResourceNotFoundException", "The specified model identifier is not found.")
    return {"modelDetails": catalog.foundation_summary(m, region)}


def _token(offset):
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token):
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise validation("The pagination token is invalid.")


def list_inference_profiles(query, region):
    ptype = _one(query, "type", "typeEquals")
    if ptype is not None and ptype not in ("SYSTEM_DEFINED", "APPLICATION"):
        raise coral_validation("typeEquals", "Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]", ptype)
    raw_max = _one(query, "maxResults")
    max_results = 1000
    if raw_max is not None:
        try:
            max_results = int(raw_max)
        except ValueError:
            raise coral_validation("maxResults", "Member must be an integer", raw_max)
        if not 1 <= max_results <= 1000:
            raise coral_validation("maxResults", "Member must have value between 1 and 1000", raw_max)
    token = _one(query, "nextToken")
    start = _offset(token) if token else 0
    items = [_dated(p) for p in catalog.inference_profiles(region) if ptype is None or p["type"] == ptype]
    page = items[start:start + max_results]
    out = {"inferenceProfileSummaries": page}
    if start + max_results < len(items):
        out["nextToken"] = _token(start + max_results)
    return out


def _dated(profile):
    """createdAt / updatedAt as AWS returns them (ISO 8601, in botocore's shape for both calls):
    a system profile dates from its model's release (the date in its id), an application
    profile from a fixed day."""
    day = re.search(r"-(20\d\d)(\d\d)(\d\d)-", profile["inferenceProfileId"] + "-")
    stamp = f"{day[1]}-{day[2]}-{day[3]}T17:00:00.000Z" if day else "2025-06-02T09:30:00.000Z"
    out = {k: v for k, v in profile.items() if k not in ("inferenceProfileArn", "models", "inferenceProfileId",
                                                         "status", "type")}
    out.update(createdAt=stamp, updatedAt=stamp)
    out.update({k: profile[k] for k in ("inferenceProfileArn", "models", "inferenceProfileId", "status", "type")})
    return out


def get_inference_profile(identifier, region):
    for p in catalog.inference_profiles(region):
        if identifier in (p["inferenceProfileId"], p["inferenceProfileArn"]):
            return _dated(p)
    raise AwsError(404, "ResourceNotFoundException", "The specified inference profile is not found.")
