"""The Ray cluster-launcher YAML for VMs, checked by Ray's own launcher schema and config checks."""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.cluster.manifests import CLUSTER

LAUNCHER = CLUSTER / "launcher" / "aws.yaml"


def check(config: dict) -> None:
    validate_config(prepare_config(copy.deepcopy(config)))


def test_the_launcher_config_is_valid_for_ray():
    config = yaml.safe_load(LAUNCHER.read_text())
    check(config)
    gpu = config["available_node_types"]["gpu"]
    assert gpu["resources"]["GPU"] == 1 and gpu["min_workers"] < gpu["max_workers"] <= config["max_workers"]
    assert "--metrics-export-port=8080" in " ".join(config["head_start_ray_commands"])


@pytest.mark.parametrize("breakage", ["unknown_field", "no_such_head_type", "workers_as_text"])
def test_a_broken_launcher_config_is_refused(breakage):
    config = yaml.safe_load(LAUNCHER.read_text())
    if breakage == "unknown_field":
        config["available_node_types"]["gpu"]["gpus"] = 1
    elif breakage == "no_such_head_type":
        config["head_node_type"] = "cpu-head"
    else:
        config["max_workers"] = "four"
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        check(config)
