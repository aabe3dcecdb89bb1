"""Models and embeddings through real Envoy: the filter makes its own calls to the Bedrock
control plane (model list) and to Bedrock Runtime (InvokeModel per embedding batch), and the
client's request is answered locally. The emulator checks every call's SigV4 signature."""

import base64
import json
import struct
import sys
from pathlib import Path

import openai
import pytest

from conftest import CLIENT_KEY, Emulator, Gateway, gateway_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
import embeddings as emu_embeddings  # noqa: E402  (the emulator's deterministic vectors)

TITAN_V2 = "amazon.titan-embed-text-v2:0"
COHERE_V3 = "cohere.embed-english-v3"


def calls(emulator, operation):
    return [r for r in emulator.requests() if r["operation"] == operation]


def decode(b64):
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


# ---- models ------------------------------------------------------------------------------


def test_models_list_is_live_from_the_control_plane(client, emulator):
    ids = [m.id for m in client.models.list()]
    # On-demand text models by id, system profiles by id, application profiles by ARN.
    assert "anthropic.claude-3-haiku-20240307-v1:0" in ids
    assert "us.anthropic.claude-sonnet-4-20250514-v1:0" in ids
    assert "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123profile" in ids
    # Legacy models, profile-only base ids and non-text models are left out.
    assert "anthropic.claude-3-5-sonnet-20240620-v1:0" not in ids
    assert "anthropic.claude-sonnet-4-20250514-v1:0" not in ids
    assert TITAN_V2 not in ids
    assert "amazon.nova-canvas-v1:0" not in ids
    ops = [r["operation"] for r in emulator.requests()]
    assert "ListFoundationModels" in ops and "ListInferenceProfiles" in ops
    assert all(r["auth_ok"] for r in emulator.requests()), "every control-plane call is signed"
    types = {r["path"].split("type=")[1].split("&")[0] for r in calls(emulator, "ListInferenceProfiles")}
    assert types == {"SYSTEM_DEFINED", "APPLICATION"}


def test_models_list_is_cached_per_vm(client, emulator):
    client.models.list()
    emulator.reset()
    first = [m.id for m in client.models.list()]
    second = [m.id for m in client.models.list()]
    assert first == second
    assert emulator.requests() == [], "a cached list needs no control-plane call"


def test_retrieve_one_model_or_404(client):
    model = client.models.retrieve("us.anthropic.claude-sonnet-4-20250514-v1:0")
    assert model.id == "us.anthropic.claude-sonnet-4-20250514-v1:0"
    assert model.object == "model"
    assert model.owned_by == "anthropic"
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("anthropic.no-such-model-v1:0")
    assert err.value.body["code"] == "model_not_found"


def test_static_list_and_aliases(emulator, tmp_path):
    config = tmp_path / "plugin.json"
    config.write_text(json.dumps({"models_source": "static", "models": ["amazon.nova-pro-v1:0"],
                                  "model_aliases": {"claude": "us.anthropic.claude-sonnet-4-20250514-v1:0"}}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    try:
        client = gw.client()
        emulator.reset()
        assert [m.id for m in client.models.list()] == ["amazon.nova-pro-v1:0", "claude"]
        assert client.models.retrieve("claude").owned_by == "anthropic"
        assert emulator.requests() == []
    finally:
        gw.close()


def test_control_plane_down_serves_last_list_then_errors_clearly(tmp_path):
    emu = Emulator()
    config = tmp_path / "plugin.json"
    config.write_text(json.dumps({"models_cache_seconds": 0}))
    gw = Gateway(gateway_env(emu, PLUGIN_CONFIG_FILE=str(config)))
    try:
        client = gw.client()
        before = [m.id for m in client.models.list()]
        assert before
        emu.close()
        # TTL 0: every request asks Bedrock; with Bedrock gone the last list still answers.
        assert [m.id for m in client.models.list()] == before
    finally:
        gw.close()
        emu.close()


def test_control_plane_unreachable_without_a_cached_list_is_503(emulator):
    env = gateway_env(emulator, AWS_ENDPOINT_URL_BEDROCK="http://127.0.0.1:9")  # discard port
    gw = Gateway(env)
    try:
        with pytest.raises(openai.APIStatusError) as err:
            gw.client().models.list()
        assert err.value.status_code == 503
        assert "control plane" in err.value.body["message"]
    finally:
        gw.close()


# ---- embeddings --------------------------------------------------------------------------


def test_titan_list_input_makes_parallel_calls_answered_in_order(client, emulator):
    texts = ["first text", "second one here", "third"]
    out = client.embeddings.create(model=TITAN_V2, input=texts, dimensions=256)
    assert [d.index for d in out.data] == [0, 1, 2]
    for text, item in zip(texts, out.data):
        assert item.embedding == pytest.approx(emu_embeddings.vector(text, 256, True, "titan2"), abs=1e-6)
    assert out.model == TITAN_V2
    # Titan counts tokens (the emulator: one per word).
    assert out.usage.prompt_tokens == 2 + 3 + 1
    invokes = calls(emulator, "invoke")
    assert sorted(r["body"]["inputText"] for r in invokes) == sorted(texts)
    assert all(r["auth_ok"] and r["model_id"] == TITAN_V2 for r in invokes)


def test_base64_encoding_decodes_to_the_float_vectors(client):
    floats = client.embeddings.create(model=TITAN_V2, input="hello world", encoding_format="float")
    raw = client.embeddings.with_raw_response.create(model=TITAN_V2, input="hello world",
                                                     encoding_format="base64")
    b64 = json.loads(raw.text)["data"][0]["embedding"]
    assert isinstance(b64, str)
    assert decode(b64) == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert len(floats.data[0].embedding) == 1024


def test_sdk_default_base64_round_trip(client):
    # openai-python asks for base64 by default and decodes it itself.
    out = client.embeddings.create(model="amazon.titan-embed-text-v1", input="plain")
    assert out.data[0].embedding == pytest.approx(emu_embeddings.vector("plain", 1536, False, "titan1"), abs=1e-5)


def test_cohere_batches_keep_input_order(client, emulator):
    texts = [f"document number {i}" for i in range(100)]
    out = client.embeddings.create(model=COHERE_V3, input=texts)
    assert len(out.data) == 100
    for i in (0, 95, 96, 99):
        assert out.data[i].embedding == pytest.approx(emu_embeddings.vector(texts[i], 1024, True, COHERE_V3), abs=1e-6)
    bodies = [r["body"] for r in calls(emulator, "invoke")]
    assert sorted(len(b["texts"]) for b in bodies) == [4, 96]
    assert all(b["input_type"] == "search_document" for b in bodies)
    assert out.usage.prompt_tokens > 0


def test_cohere_v4_and_nova_dimensions(client):
    v4 = client.embeddings.create(model="cohere.embed-v4:0", input=["a b", "c"], dimensions=512)
    assert [len(d.embedding) for d in v4.data] == [512, 512]
    assert v4.data[1].embedding == pytest.approx(emu_embeddings.vector("c", 512, True, "cohere-v4"), abs=1e-6)
    nova = client.embeddings.create(model="amazon.nova-2-multimodal-embeddings-v1:0", input="hi", dimensions=384)
    assert nova.data[0].embedding == pytest.approx(emu_embeddings.vector("hi", 384, True, "nova-mm"), abs=1e-6)


def test_unknown_model_and_token_arrays_are_400(client, emulator):
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model="anthropic.claude-3-haiku-20240307-v1:0", input="x")
    message = err.value.body["message"]
    assert "Titan" in message and "Cohere" in message and "Nova" in message
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model=TITAN_V2, input=[[1, 2, 3]])
    assert "Token arrays" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model=COHERE_V3, input="x", dimensions=256)
    assert err.value.body["param"] == "dimensions"
    assert calls(emulator, "invoke") == []


def test_bedrock_validation_error_reaches_the_client(client):
    # The emulator (like Bedrock) caps Cohere v3 texts at 2048 characters.
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model=COHERE_V3, input="x" * 3000)
    assert "Bedrock" in err.value.body["message"]


def test_api_v1_prefix_serves_embeddings(gateway):
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{gateway.port}/api/v1", api_key=CLIENT_KEY, max_retries=0)
    out = client.embeddings.create(model=TITAN_V2, input="bag users")
    assert len(out.data[0].embedding) == 1024


def test_embeddings_need_a_client_key(gateway):
    with pytest.raises(openai.AuthenticationError):
        gateway.client(api_key="wrong").embeddings.create(model=TITAN_V2, input="x")


# ---- how the filter's own calls are signed and routed -------------------------------------


def test_envoy_native_signing_covers_the_filters_own_calls(emulator):
    gw = Gateway(gateway_env(emulator, UPSTREAM_AUTH="envoy"))
    try:
        client = gw.client()
        emulator.reset()
        assert "anthropic.claude-3-haiku-20240307-v1:0" in [m.id for m in client.models.list()]
        out = client.embeddings.create(model=TITAN_V2, input=["a", "b"], encoding_format="float")
        assert len(out.data) == 2
        records = emulator.requests()
        assert {r["operation"] for r in records} >= {"ListFoundationModels", "invoke"}
        assert all(r["auth"] == "sigv4" and r["auth_ok"] for r in records), records
    finally:
        gw.close()


def test_missing_clusters_are_a_clear_503(emulator, tmp_path):
    config = tmp_path / "plugin.json"
    config.write_text(json.dumps({"runtime_cluster": "no_such_runtime", "control_plane_cluster": "no_such_cp"}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    try:
        client = gw.client()
        with pytest.raises(openai.APIStatusError) as err:
            client.embeddings.create(model=TITAN_V2, input="x")
        assert err.value.status_code == 503
        assert "no_such_runtime" in err.value.body["message"]
        with pytest.raises(openai.APIStatusError) as err:
            client.models.list()
        assert err.value.status_code == 503
        assert "no_such_cp" in err.value.body["message"]
        # The gateway itself stays healthy.
        assert client.chat.completions.create(model="anthropic.claude-3-haiku-20240307-v1:0",
                                              messages=[{"role": "user", "content": "hi"}]).choices
    finally:
        gw.close()


def test_model_allow_lists_shape_the_list_and_guard_embeddings(emulator, tmp_path):
    config = tmp_path / "plugin.json"
    config.write_text(json.dumps({
        "model_aliases": {"embed": TITAN_V2},
        "api_keys": [CLIENT_KEY, {"name": "team", "key": "team-key", "models": ["embed"]}],
    }))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    try:
        team = gw.client(api_key="team-key")
        assert [m.id for m in team.models.list()] == ["embed"]
        assert len(team.embeddings.create(model="embed", input="x").data) == 1
        with pytest.raises(openai.PermissionDeniedError) as err:
            team.embeddings.create(model=COHERE_V3, input="x")
        assert err.value.body["code"] == "model_not_allowed"
        assert len([m.id for m in gw.client().models.list()]) > 10
    finally:
        gw.close()
