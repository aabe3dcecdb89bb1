"""deploy/istio and deploy/envoy-gateway: no cluster here, so these check the resources'
structure against the fields their CRDs define (the subset used, unknown fields rejected) and,
above all, that they cannot drift from the tested config: the plugin configuration is
envoy/plugin-config.json, and the Wasm settings are those of envoy/envoy.yaml."""

import json

import jsonschema
import pytest

from deploy_support import PLUGIN_CONFIG, ROOT, load_docs, template_wasm_config, template_with_placeholders

ISTIO = ROOT / "deploy" / "istio"
EG = ROOT / "deploy" / "envoy-gateway"
K8S_GATEWAY = ROOT / "deploy" / "kubernetes" / "gateway" / "deployment.yaml"


def obj(properties, required=()):
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


STR, BOOL, INT = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
ANY = {}
META = obj({"name": STR, "namespace": STR, "labels": ANY, "annotations": ANY}, ["name"])
TARGET_REF = obj({"group": STR, "kind": STR, "name": STR, "sectionName": STR}, ["group", "kind", "name"])


def resource(api_version, kind, spec):
    return obj({"apiVersion": {"const": api_version}, "kind": {"const": kind}, "metadata": META, "spec": spec},
               ["apiVersion", "kind", "metadata", "spec"])


# Fields as the CRDs define them (istio/api networking v1alpha3 EnvoyFilter, networking v1
# ServiceEntry / DestinationRule / Gateway / VirtualService; envoyproxy/gateway api/v1alpha1).
SCHEMAS = {
    "EnvoyFilter": resource("networking.istio.io/v1alpha3", "EnvoyFilter", obj({
        "workloadSelector": obj({"labels": {"type": "object"}}),
        "configPatches": {"type": "array", "items": obj({
            "applyTo": {"enum": ["EXTENSION_CONFIG", "HTTP_FILTER", "LISTENER", "CLUSTER", "NETWORK_FILTER"]},
            "match": obj({"context": {"enum": ["ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY"]},
                          "listener": ANY, "proxy": ANY}),
            "patch": obj({"operation": {"enum": ["MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER",
                                                 "INSERT_FIRST", "REPLACE"]}, "value": {"type": "object"}},
                         ["operation"])}, ["applyTo", "patch"])},
    }, ["configPatches"])),
    "ServiceEntry": resource("networking.istio.io/v1", "ServiceEntry", obj({
        "hosts": {"type": "array", "items": STR, "minItems": 1},
        "location": {"enum": ["MESH_EXTERNAL", "MESH_INTERNAL"]},
        "resolution": {"enum": ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"]},
        "ports": {"type": "array", "items": obj({"number": INT, "name": STR, "targetPort": INT, "protocol": {
            "enum": ["HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS"]}}, ["number", "name"])},
    }, ["hosts"])),
    "DestinationRule": resource("networking.istio.io/v1", "DestinationRule", obj({
        "host": STR, "trafficPolicy": obj({"tls": obj({"mode": {"enum": ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]},
                                                        "sni": STR, "credentialName": STR})}),
    }, ["host"])),
    "Gateway/networking.istio.io/v1": resource("networking.istio.io/v1", "Gateway", obj({
        "selector": {"type": "object"},
        "servers": {"type": "array", "items": obj({"port": obj({"number": INT, "name": STR, "protocol": STR},
                                                                ["number", "protocol"]), "hosts": ANY}, ["port", "hosts"])},
    })),
    "VirtualService": resource("networking.istio.io/v1", "VirtualService", obj({
        "hosts": ANY, "gateways": ANY,
        "http": {"type": "array", "items": obj({"name": STR, "match": ANY, "timeout": STR, "route": {
            "type": "array", "items": obj({"destination": obj({"host": STR, "port": obj({"number": INT})}, ["host"]),
                                           "weight": INT}, ["destination"])}})},
    })),
    "EnvoyExtensionPolicy": resource("gateway.envoyproxy.io/v1alpha1", "EnvoyExtensionPolicy", obj({
        "targetRefs": {"type": "array", "items": TARGET_REF},
        "wasm": {"type": "array", "items": obj({
            "name": STR, "rootID": STR, "failOpen": BOOL, "config": ANY,
            "env": obj({"hostKeys": {"type": "array", "items": STR}}),
            "code": obj({"type": {"enum": ["HTTP", "Image", "ConfigMap"]},
                         "image": obj({"url": STR, "sha256": STR, "pullSecretRef": ANY}, ["url"]),
                         "pullPolicy": {"enum": ["IfNotPresent", "Always"]}}, ["type"]),
        }, ["code"])},
    })),
    "EnvoyPatchPolicy": resource("gateway.envoyproxy.io/v1alpha1", "EnvoyPatchPolicy", obj({
        "targetRef": obj({"group": STR, "kind": STR, "name": STR}, ["group", "kind", "name"]),
        "type": {"const": "JSONPatch"}, "priority": INT,
        "jsonPatches": {"type": "array", "items": obj({"type": STR, "name": STR, "operation": obj({
            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": STR, "jsonPath": STR, "from": STR, "value": ANY}, ["op"])}, ["type", "name", "operation"])},
    }, ["type", "targetRef"])),
    "Backend": resource("gateway.envoyproxy.io/v1alpha1", "Backend", obj({
        "endpoints": {"type": "array", "items": obj({"fqdn": obj({"hostname": STR, "port": INT}, ["hostname", "port"])})},
        "tls": obj({"wellKnownCACertificates": {"const": "System"}, "sni": STR, "caCertificateRefs": ANY}),
    })),
    "EnvoyProxy": resource("gateway.envoyproxy.io/v1alpha1", "EnvoyProxy", obj({"provider": obj({
        "type": {"const": "Kubernetes"},
        "kubernetes": obj({"envoyDeployment": obj({"container": obj({"env": {"type": "array"}})})})}, ["type"])})),
    "ClientTrafficPolicy": resource("gateway.envoyproxy.io/v1alpha1", "ClientTrafficPolicy", obj({
        "targetRefs": {"type": "array", "items": TARGET_REF}, "connection": obj({"bufferLimit": STR})})),
    "Gateway/gateway.networking.k8s.io/v1": resource("gateway.networking.k8s.io/v1", "Gateway", obj({
        "gatewayClassName": STR, "infrastructure": obj({"parametersRef": obj({"group": STR, "kind": STR, "name": STR})}),
        "listeners": {"type": "array", "items": obj({"name": STR, "protocol": STR, "port": INT, "hostname": STR},
                                                     ["name", "protocol", "port"])},
    }, ["gatewayClassName", "listeners"])),
    "HTTPRoute": resource("gateway.networking.k8s.io/v1", "HTTPRoute", obj({
        "parentRefs": {"type": "array"}, "hostnames": ANY,
        "rules": {"type": "array", "items": obj({"matches": ANY, "timeouts": obj({"request": STR}), "backendRefs": {
            "type": "array", "items": obj({"group": STR, "kind": STR, "name": STR, "port": INT}, ["name"])}})},
    })),
}


def schema_for(doc):
    return SCHEMAS.get(doc["kind"]) or SCHEMAS[f"{doc['kind']}/{doc['apiVersion']}"]


def recipe(directory):
    """Every resource the directory's kustomization lists, by kind (and name)."""
    (kustomization,) = load_docs(directory / "kustomization.yaml")
    docs = [d for path in kustomization["resources"] for d in load_docs(directory / path)]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}, kustomization


def one(resources, kind):
    (doc,) = [d for (k, _), d in resources.items() if k == kind]
    return doc


def wasm_config_of_envoy_yaml():
    """The Wasm PluginConfig of envoy/envoy.yaml, template variables left as they are."""
    return template_wasm_config(template_with_placeholders())


@pytest.mark.parametrize("directory", [ISTIO, EG], ids=["istio", "envoy-gateway"])
def test_resources_match_their_crd_fields(directory):
    resources, _ = recipe(directory)
    assert resources
    for doc in resources.values():
        jsonschema.validate(doc, schema_for(doc))


def istio_wasm():
    resources, _ = recipe(ISTIO)
    patches = one(resources, "EnvoyFilter")["spec"]["configPatches"]
    (ecds,) = [p for p in patches if p["applyTo"] == "EXTENSION_CONFIG"]
    (insert,) = [p for p in patches if p["applyTo"] == "HTTP_FILTER"]
    return ecds["patch"]["value"], insert


def test_istio_plugin_config_is_the_tested_one():
    value, _ = istio_wasm()
    configuration = value["typed_config"]["config"]["configuration"]
    assert json.loads(configuration["value"]) == json.loads(PLUGIN_CONFIG.read_text())


def test_istio_wasm_settings_are_those_of_envoy_yaml():
    value, insert = istio_wasm()
    ours, tested = value["typed_config"]["config"], wasm_config_of_envoy_yaml()
    for key in ["name", "root_id", "failure_policy", "allow_on_headers_stop_iteration"]:
        assert ours[key] == tested[key], key
    assert ours["allow_on_headers_stop_iteration"] is True
    for key in ["vm_id", "runtime", "environment_variables"]:
        assert ours["vm_config"][key] == tested["vm_config"][key], key
    assert ours["vm_config"]["code"]["remote"]["http_uri"]["uri"].startswith("oci://")
    # The HTTP filter fetches exactly this extension config, before the router.
    assert insert["patch"]["value"]["name"] == value["name"]
    assert insert["patch"]["operation"] == "INSERT_BEFORE"
    assert insert["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"] == "envoy.filters.http.router"


def test_istio_routes_rewritten_requests_to_bedrock_over_tls():
    resources, _ = recipe(ISTIO)
    host = one(resources, "ServiceEntry")["spec"]["hosts"][0]
    rule = one(resources, "DestinationRule")["spec"]
    assert rule["host"] == host and rule["trafficPolicy"]["tls"] == {"mode": "SIMPLE", "sni": host}
    (route,) = one(resources, "VirtualService")["spec"]["http"]
    assert route["match"] == [{"uri": {"prefix": "/model/"}}]  # the path the filter rewrites to
    assert route["route"][0]["destination"] == {"host": host, "port": {"number": 443}}


def test_envoy_gateway_plugin_config_is_the_tested_one():
    resources, _ = recipe(EG)
    (wasm,) = one(resources, "EnvoyExtensionPolicy")["spec"]["wasm"]
    assert wasm["config"] == json.loads(PLUGIN_CONFIG.read_text())
    tested = wasm_config_of_envoy_yaml()
    assert wasm["rootID"] == tested["root_id"]
    assert wasm["env"]["hostKeys"] == tested["vm_config"]["environment_variables"]["host_env_keys"]
    assert wasm["code"]["type"] == "Image"


def test_envoy_gateway_patch_targets_the_generated_filter():
    """The names Envoy Gateway gives the listener (<ns>/<gateway>/<listener>) and the Wasm filter
    (envoy.filters.http.wasm/envoyextensionpolicy/<ns>/<policy>/wasm/<index>)."""
    resources, kustomization = recipe(EG)
    ns = kustomization["namespace"]
    gateway = one(resources, "Gateway")
    policy = one(resources, "EnvoyExtensionPolicy")
    patch = one(resources, "EnvoyPatchPolicy")["spec"]
    assert patch["targetRef"]["name"] == gateway["metadata"]["name"]
    listener = f"{ns}/{gateway['metadata']['name']}/{gateway['spec']['listeners'][0]['name']}"
    filter_name = f"envoy.filters.http.wasm/envoyextensionpolicy/{ns}/{policy['metadata']['name']}/wasm/0"
    added = {}
    for p in patch["jsonPatches"]:
        assert p["name"] == listener
        assert f"@.name=='{filter_name}'" in p["operation"]["jsonPath"]
        added[p["operation"]["path"]] = p["operation"]["value"]
    tested = wasm_config_of_envoy_yaml()
    assert added == {"/allow_on_headers_stop_iteration": tested["allow_on_headers_stop_iteration"],
                     "/failure_policy": tested["failure_policy"]}


def test_envoy_gateway_routes_to_the_bedrock_backend():
    resources, _ = recipe(EG)
    backend = one(resources, "Backend")
    (rule,) = one(resources, "HTTPRoute")["spec"]["rules"]
    prefixes = {m["path"]["value"] for m in rule["matches"]}
    assert {"/v1", "/api/v1", "/model/"} <= prefixes
    (ref,) = rule["backendRefs"]
    assert (ref["kind"], ref["name"]) == ("Backend", backend["metadata"]["name"])
    endpoint = backend["spec"]["endpoints"][0]["fqdn"]
    assert backend["spec"]["tls"]["sni"] == endpoint["hostname"] and endpoint["port"] == ref["port"] == 443
    policy = one(resources, "EnvoyExtensionPolicy")["spec"]
    assert policy["targetRefs"][0]["name"] == one(resources, "HTTPRoute")["metadata"]["name"]


def test_every_recipe_pulls_the_same_filter_image():
    istio_uri = istio_wasm()[0]["typed_config"]["config"]["vm_config"]["code"]["remote"]["http_uri"]["uri"]
    eg_url = one(recipe(EG)[0], "EnvoyExtensionPolicy")["spec"]["wasm"][0]["code"]["image"]["url"]
    (deployment,) = load_docs(K8S_GATEWAY)
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "filter")
    assert istio_uri.removeprefix("oci://") == eg_url == volume["image"]["reference"]
