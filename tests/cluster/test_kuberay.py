"""The KubeRay manifests, checked offline by the real schemas.

No Kubernetes runs here. The RayService's own fields are checked against the schema transcribed
from KubeRay's CRD (``cluster/kuberay/rayservice.schema.json``), every pod template and plain
object against Kubernetes' published schemas (``kubernetes-validate``, strict: an unknown field
fails), and ``serveConfigV2`` against Ray Serve's own config schema.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pydantic
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from cli.manifests import RAYSERVICE, SERVE_CONFIG, render_rayservice, version
from tests.cluster.manifests import CLUSTER, load_yaml_documents

K8S_VERSION = "1.31"


def rayservice() -> dict:
    (doc,) = load_yaml_documents(RAYSERVICE)
    return doc


def pod_template(template: dict) -> dict:
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}


def check_rayservice(doc: dict) -> None:
    jsonschema.validate(doc, json.loads((CLUSTER / "kuberay" / "rayservice.schema.json").read_text()))
    spec = doc["spec"]["rayClusterConfig"]
    for group in [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]:
        kubernetes_validate.validate(pod_template(group["template"]), K8S_VERSION, strict=True)
    ServeDeploySchema.model_validate(yaml.safe_load(doc["spec"]["serveConfigV2"]))


def test_the_rayservice_passes_its_crd_schema_kubernetes_and_serve():
    check_rayservice(rayservice())


def test_the_committed_manifest_is_rendered_from_serve_config():
    assert RAYSERVICE.read_text() == render_rayservice(), "stale: run `secretary cluster render`"
    doc = rayservice()
    assert yaml.safe_load(doc["spec"]["serveConfigV2"]) == yaml.safe_load(SERVE_CONFIG.read_text())
    images = {
        c["image"]
        for g in [doc["spec"]["rayClusterConfig"]["headGroupSpec"], *doc["spec"]["rayClusterConfig"]["workerGroupSpecs"]]
        for c in g["template"]["spec"]["containers"]
    }
    assert images == {f"registry.example.com/secretary:{version()}"}


def test_groups_hold_what_the_issue_asks():
    spec = rayservice()["spec"]["rayClusterConfig"]
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert spec["enableInTreeAutoscaling"] is True
    gpu, modem = groups["gpu"], groups["modem"]
    assert gpu["minReplicas"] < gpu["maxReplicas"]
    (gpu_container,) = gpu["template"]["spec"]["containers"]
    assert gpu_container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # The modem group advertises the resource the ingress actor asks for, and reaches USB devices.
    assert json.loads(json.loads(modem["rayStartParams"]["resources"])) == {"modem": 1}
    assert modem["rayStartParams"]["labels"] == "secretary.io/role=modem"  # replicas avoid it (label_selector)
    (modem_container,) = modem["template"]["spec"]["containers"]
    assert modem_container["securityContext"]["privileged"] is True
    assert modem["template"]["spec"]["nodeSelector"] == {"secretary.io/modem": "true"}
    for g in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
        assert g["rayStartParams"]["metrics-export-port"] == "8080"  # what Prometheus scrapes


@pytest.mark.parametrize(
    "breakage",
    ["typo_in_ray_field", "bad_upscaling_mode", "unknown_container_field", "cpu_as_list", "broken_serve_config"],
)
def test_a_broken_manifest_is_refused(breakage):
    doc = copy.deepcopy(rayservice())
    spec = doc["spec"]["rayClusterConfig"]
    container = spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    if breakage == "typo_in_ray_field":
        spec["workerGroupSpecs"][0]["maxReplica"] = 4
    elif breakage == "bad_upscaling_mode":
        spec["autoscalerOptions"]["upscalingMode"] = "Fast"
    elif breakage == "unknown_container_field":
        container["gpus"] = 1
    elif breakage == "cpu_as_list":
        container["resources"]["limits"]["cpu"] = ["8"]
    else:
        serve = yaml.safe_load(doc["spec"]["serveConfigV2"])
        serve["applications"][0]["deployments"][0]["num_replicas"] = "many"
        doc["spec"]["serveConfigV2"] = yaml.safe_dump(serve)
    with pytest.raises((jsonschema.ValidationError, pydantic.ValidationError)):
        check_rayservice(doc)


def test_the_metrics_service_and_volume_claim_are_valid_kubernetes():
    docs = load_yaml_documents(CLUSTER / "kuberay" / "metrics-service.yaml")
    assert {d["kind"] for d in docs} == {"Service", "PersistentVolumeClaim"}
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    service = next(d for d in docs if d["kind"] == "Service")
    # It selects exactly the pods of the RayService, by the label every group's template carries.
    spec = rayservice()["spec"]["rayClusterConfig"]
    for g in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
        labels = g["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
