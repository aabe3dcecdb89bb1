"""The one model catalog, shared by runtime routing and the control plane.

Each foundation model carries what both sides need: listing attributes
(ListFoundationModels shape) and runtime traits (converse or embedding kind,
max output tokens, tool support). Cross-region (system) inference profiles
and application inference profiles are derived from it.
"""

from dataclasses import dataclass, field

from aws_errors import AwsError, validation

ACCOUNT = "123456789012"
GEOS = ("us", "eu", "apac", "jp", "au", "global")

# Source regions per geography, used for the profiles' models[] ARNs.
_GEO_REGIONS = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-southeast-1", "ap-southeast-2"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "global": ("us-east-1", "us-east-2", "us-west-2", ""),
}
_GEO_LABEL = {"us": "US", "eu": "EU", "apac": "APAC", "jp": "JP", "au": "AU", "global": "Global"}

# How a model is asked to reason (Model.reasoning), each family with its own field:
THINKING = "thinking"  # Claude: additionalModelRequestFields.thinking {type, budget_tokens}
REASONING_CONFIG = "reasoningConfig"  # Nova 2: additionalModelRequestFields.reasoningConfig
REASONING_EFFORT = "reasoning_effort"  # gpt-oss: additionalModelRequestFields.reasoning_effort
ALWAYS = "always"  # DeepSeek R1: always reasons, takes no switch


@dataclass
class Model:
    model_id: str
    name: str
    provider: str
    inputs: tuple = ("TEXT",)
    outputs: tuple = ("TEXT",)
    inference_types: tuple = ("ON_DEMAND",)
    lifecycle: str = "ACTIVE"
    streaming: bool = True
    customizations: tuple = ()
    geos: tuple = ()  # geographies with a system-defined profile
    kind: str = "converse"  # converse | embedding | image
    max_output: int = 4096
    tools: bool = True
    forced_tool_choice: bool = True  # supports toolChoice any/tool
    structured_output: bool = False  # outputConfig.textFormat json_schema
    system: bool = True  # takes a system prompt
    streaming_tools: bool = True  # tool use also in ConverseStream
    reasoning: str = ""  # THINKING | REASONING_CONFIG | REASONING_EFFORT | ALWAYS | "" (none)
    # Explicit prompt caching (cachePoint): tokens a prefix needs before a checkpoint counts;
    # 0 = the model has no explicit prompt caching.
    cache_min_tokens: int = 0
    # temperature and topP are mutually exclusive (Opus 4.1 and the Claude 4.5+ family).
    exclusive_sampling: bool = False

    @property
    def thinking(self) -> bool:
        """Claude extended thinking (additionalModelRequestFields.thinking)."""
        return self.reasoning == THINKING

    @property
    def family(self) -> str:
        return self.model_id.split(".", 1)[0]  # anthropic, amazon, meta, mistral, openai, ...


_C = "Anthropic"
_ALL_GEOS = ("us", "eu", "apac", "jp", "au", "global")
_PROFILE = ("INFERENCE_PROFILE",)
_VISION = ("TEXT", "IMAGE")
_NOVA_INPUTS = ("TEXT", "IMAGE", "VIDEO")
# Facts per model: AWS's model cards and the Converse supported-features table; prompt-caching
# minimums from the Bedrock prompt-caching guide (Claude 3.7/4/4.1/4.5 Sonnet 1,024; 3.5 Haiku
# 2,048; Haiku 4.5, Opus 4.5, Opus 4.6 4,096; Nova 1K). Nova 2 Lite refuses cachePoint
# ("extraneous key [cachePoint] is not permitted", zeroclaw-labs/zeroclaw#8943); Llama 4 refuses
# tools in ConverseStream (earendil-works/pi#3739).
MODELS = [
    Model("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", _C, _VISION,
          customizations=("FINE_TUNING",), geos=("us", "eu", "apac"), max_output=4096),
    Model("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet", _C, _VISION,
          lifecycle="LEGACY", geos=("us", "eu", "apac"), max_output=8192),
    Model("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2", _C, _VISION,
          inference_types=_PROFILE, lifecycle="LEGACY", geos=("us", "apac"), max_output=8192),
    Model("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku", _C,
          inference_types=_PROFILE, geos=("us",), max_output=8192, cache_min_tokens=2048),
    Model("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet", _C, _VISION,
          inference_types=_PROFILE, geos=("us", "eu", "apac"), max_output=131072, reasoning=THINKING,
          cache_min_tokens=1024),
    Model("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", _C, _VISION,
          inference_types=_PROFILE, geos=("us", "eu", "apac", "global"), max_output=64000,
          reasoning=THINKING, cache_min_tokens=1024),
    Model("anthropic.claude-opus-4-20250514-v1:0", "Claude Opus 4", _C, _VISION,
          inference_types=_PROFILE, geos=("us",), max_output=32000, reasoning=THINKING, cache_min_tokens=1024),
    Model("anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1", _C, _VISION,
          inference_types=_PROFILE, geos=("us",), max_output=32000, reasoning=THINKING, cache_min_tokens=1024,
          exclusive_sampling=True),
    Model("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", _C, _VISION,
          inference_types=_PROFILE, geos=_ALL_GEOS, max_output=64000, reasoning=THINKING,
          structured_output=True, cache_min_tokens=1024, exclusive_sampling=True),
    Model("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5", _C, _VISION,
          inference_types=_PROFILE, geos=_ALL_GEOS, max_output=64000, reasoning=THINKING,
          structured_output=True, cache_min_tokens=4096, exclusive_sampling=True),
    Model("anthropic.claude-opus-4-5-20251101-v1:0", "Claude Opus 4.5", _C, _VISION,
          inference_types=_PROFILE, geos=_ALL_GEOS, max_output=64000, reasoning=THINKING,
          structured_output=True, cache_min_tokens=4096, exclusive_sampling=True),
    Model("anthropic.claude-opus-4-6-v1", "Claude Opus 4.6", _C, _VISION,
          inference_types=_PROFILE, geos=_ALL_GEOS, max_output=128000, reasoning=THINKING,
          structured_output=True, cache_min_tokens=4096, exclusive_sampling=True),
    Model("anthropic.claude-sonnet-4-6", "Claude Sonnet 4.6", _C, _VISION,
          inference_types=_PROFILE, geos=_ALL_GEOS, max_output=64000, reasoning=THINKING,
          structured_output=True, cache_min_tokens=1024, exclusive_sampling=True),
    Model("amazon.nova-micro-v1:0", "Nova Micro", "Amazon", geos=("us", "eu", "apac"), max_output=10000,
          cache_min_tokens=1000),
    Model("amazon.nova-lite-v1:0", "Nova Lite", "Amazon", _NOVA_INPUTS,
          customizations=("FINE_TUNING", "DISTILLATION"), geos=("us", "eu", "apac"), max_output=10000,
          cache_min_tokens=1000),
    Model("amazon.nova-pro-v1:0", "Nova Pro", "Amazon", _NOVA_INPUTS,
          customizations=("FINE_TUNING", "DISTILLATION"), geos=("us", "eu", "apac"), max_output=10000,
          cache_min_tokens=1000),
    Model("amazon.nova-premier-v1:0", "Nova Premier", "Amazon", _NOVA_INPUTS,
          inference_types=_PROFILE, geos=("us",), max_output=32000, cache_min_tokens=1000),
    Model("amazon.nova-2-lite-v1:0", "Nova 2 Lite", "Amazon", _NOVA_INPUTS,
          inference_types=_PROFILE, geos=("us", "eu", "jp", "global"), max_output=65535,
          reasoning=REASONING_CONFIG),
    Model("meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct", "Meta", geos=("us",),
          max_output=2048, forced_tool_choice=False, streaming_tools=False),
    Model("meta.llama3-1-70b-instruct-v1:0", "Llama 3.1 70B Instruct", "Meta", geos=("us",),
          max_output=2048, forced_tool_choice=False, streaming_tools=False),
    Model("meta.llama3-3-70b-instruct-v1:0", "Llama 3.3 70B Instruct", "Meta",
          inference_types=_PROFILE, geos=("us",), max_output=8192, forced_tool_choice=False,
          streaming_tools=False),
    Model("meta.llama4-scout-17b-instruct-v1:0", "Llama 4 Scout 17B Instruct", "Meta", _VISION,
          inference_types=_PROFILE, geos=("us",), max_output=8192, forced_tool_choice=False,
          streaming_tools=False),
    Model("meta.llama4-maverick-17b-instruct-v1:0", "Llama 4 Maverick 17B Instruct", "Meta", _VISION,
          inference_types=_PROFILE, geos=("us",), max_output=8192, forced_tool_choice=False,
          streaming_tools=False),
    Model("mistral.mistral-large-2407-v1:0", "Mistral Large (24.07)", "Mistral AI", max_output=8192),
    Model("mistral.mistral-large-2402-v1:0", "Mistral Large (24.02)", "Mistral AI", max_output=8192),
    Model("mistral.mistral-small-2402-v1:0", "Mistral Small (24.02)", "Mistral AI", max_output=8192,
          forced_tool_choice=False),
    Model("mistral.mistral-7b-instruct-v0:2", "Mistral 7B Instruct", "Mistral AI", max_output=8192,
          tools=False, system=False),
    Model("mistral.mixtral-8x7b-instruct-v0:1", "Mixtral 8x7B Instruct", "Mistral AI", max_output=4096,
          tools=False, system=False),
    Model("mistral.pixtral-large-2502-v1:0", "Pixtral Large (25.02)", "Mistral AI", _VISION,
          inference_types=_PROFILE, geos=("us", "eu"), max_output=8192),
    Model("deepseek.r1-v1:0", "DeepSeek-R1", "DeepSeek", inference_types=_PROFILE,
          geos=("us",), max_output=32768, tools=False, reasoning=ALWAYS),
    Model("deepseek.v3-v1:0", "DeepSeek-V3.1", "DeepSeek", geos=("us",), max_output=8192,
          forced_tool_choice=False),
    Model("openai.gpt-oss-120b-1:0", "gpt-oss-120b", "OpenAI", max_output=128000, structured_output=True,
          reasoning=REASONING_EFFORT),
    Model("openai.gpt-oss-20b-1:0", "gpt-oss-20b", "OpenAI", max_output=128000, structured_output=True,
          reasoning=REASONING_EFFORT),
    Model("cohere.command-r-plus-v1:0", "Command R+", "Cohere", max_output=4096, forced_tool_choice=False),
    Model("qwen.qwen3-32b-v1:0", "Qwen3 32B (dense)", "Qwen", max_output=16384),
    # Embeddings (InvokeModel only).
    Model("amazon.titan-embed-text-v1", "Titan Embeddings G1 - Text", "Amazon", outputs=("EMBEDDING",),
          streaming=False, kind="embedding", tools=False),
    Model("amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2", "Amazon", outputs=("EMBEDDING",),
          streaming=False, kind="embedding", tools=False),
    Model("cohere.embed-english-v3", "Embed English", "Cohere", ("TEXT", "IMAGE"), ("EMBEDDING",),
          streaming=False, kind="embedding", tools=False),
    Model("cohere.embed-multilingual-v3", "Embed Multilingual", "Cohere", ("TEXT", "IMAGE"), ("EMBEDDING",),
          streaming=False, kind="embedding", tools=False),
    Model("cohere.embed-v4:0", "Embed v4", "Cohere", ("TEXT", "IMAGE"), ("EMBEDDING",),
          inference_types=("ON_DEMAND", "INFERENCE_PROFILE"), geos=("us", "eu", "global"),
          streaming=False, kind="embedding", tools=False),
    Model("amazon.nova-2-multimodal-embeddings-v1:0", "Nova Multimodal Embeddings", "Amazon",
          ("TEXT", "IMAGE", "AUDIO", "VIDEO"), ("EMBEDDING",), streaming=False, kind="embedding", tools=False),
    # Image generation: listed (for byOutputModality filtering), not served.
    Model("amazon.nova-canvas-v1:0", "Nova Canvas", "Amazon", ("TEXT", "IMAGE"), ("IMAGE",),
          streaming=False, kind="image", tools=False),
]
BY_ID = {m.model_id: m for m in MODELS}

# Application inference profiles: id -> (name, description, wrapped model or system profile id).
APPLICATION_PROFILES = {
    "abc123profile": ("my-app-haiku", "Team A cost tracking", "anthropic.claude-3-haiku-20240307-v1:0"),
    "def456profile": ("my-app-sonnet4", "Team B, copied from the US profile", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
    # A model that refuses temperature with topP, behind an ARN that does not name it.
    "ghi789profile": ("my-app-sonnet45", "Team C", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
}


@dataclass
class Target:
    """What a runtime model identifier resolved to."""
    model: Model
    via: str  # foundation | system-profile | application-profile
    identifier: str = ""
    extra: dict = field(default_factory=dict)


def foundation_arn(model_id, region):
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def system_profile_arn(profile_id, region):
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile_id}"


def application_profile_arn(pid, region):
    return f"arn:aws:bedrock:{region}:{ACCOUNT}:application-inference-profile/{pid}"


def _invalid():
    return validation("The provided model identifier is invalid.")


def _split_geo(identifier):
    geo, dot, rest = identifier.partition(".")
    if dot and geo in GEOS and rest in BY_ID:
        return geo, BY_ID[rest]
    return None, None


def resolve(identifier: str, region: str) -> Target:
    """Resolve a runtime modelId (already URL-decoded) like Bedrock does."""
    if "no-access" in identifier:
        raise AwsError(403, "AccessDeniedException",
                       "You don't have access to the model with the specified model ID.")
    if identifier in BY_ID:
        return Target(BY_ID[identifier], "foundation", identifier)
    geo, model = _split_geo(identifier)
    if model:
        return Target(model, "system-profile", identifier, {"geo": geo})
    prefix = "arn:aws:bedrock:"
    if identifier.startswith(prefix):
        parts = identifier[len(prefix):].split(":", 2)
        if len(parts) != 3:
            raise _invalid()
        arn_region, account, resource = parts
        rtype, _, rid = resource.partition("/")
        if rtype == "foundation-model" and account == "" and rid in BY_ID:
            return Target(BY_ID[rid], "foundation", rid)
        if arn_region != region or account != ACCOUNT:
            raise _invalid()
        if rtype == "inference-profile":
            geo, model = _split_geo(rid)
            if model:
                return Target(model, "system-profile", rid, {"geo": geo})
        if rtype == "application-inference-profile" and rid in APPLICATION_PROFILES:
            wrapped = APPLICATION_PROFILES[rid][2]
            inner = resolve(wrapped, region)
            return Target(inner.model, "application-profile", rid)
    raise _invalid()


def _geo_models(model, geo):
    return [{"modelArn": foundation_arn(model.model_id, r)} for r in _GEO_REGIONS[geo]]


def foundation_summary(m: Model, region: str) -> dict:
    return {
        "modelArn": foundation_arn(m.model_id, region),
        "modelId": m.model_id,
        "modelName": m.name,
        "providerName": m.provider,
        "inputModalities": list(m.inputs),
        "outputModalities": list(m.outputs),
        "responseStreamingSupported": m.streaming,
        "customizationsSupported": list(m.customizations),
        "inferenceTypesSupported": list(m.inference_types),
        "modelLifecycle": {"status": m.lifecycle},
    }


def inference_profiles(region: str) -> list:
    """All profile summaries, system-defined first, in a stable order."""
    out = []
    for m in MODELS:
        for geo in m.geos:
            pid = f"{geo}.{m.model_id}"
            out.append({
                "inferenceProfileName": f"{_GEO_LABEL[geo]} {m.name}",
                "description": f"Routes requests to {m.name} in {', '.join(r or 'any commercial region' for r in _GEO_REGIONS[geo])}.",
                "inferenceProfileArn": system_profile_arn(pid, region),
                "models": _geo_models(m, geo),
                "inferenceProfileId": pid,
                "status": "ACTIVE",
                "type": "SYSTEM_DEFINED",
            })
    for pid, (name, desc, wrapped) in APPLICATION_PROFILES.items():
        target = resolve(wrapped, region)
        if target.via == "system-profile":
            models = _geo_models(target.model, target.extra["geo"])
        else:
            models = [{"modelArn": foundation_arn(target.model.model_id, region)}]
        out.append({
            "inferenceProfileName": name,
            "description": desc,
            "inferenceProfileArn": application_profile_arn(pid, region),
            "models": models,
            "inferenceProfileId": pid,
            "status": "ACTIVE",
            "type": "APPLICATION",
        })
    return out
