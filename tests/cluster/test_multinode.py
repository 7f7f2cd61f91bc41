"""The test cluster is three Ray nodes, placed as in production: models on the head, lines elsewhere.

The office nodes (cli/local_nodes.py) advertise their modems (``modem``, ``line_<IMEI>``) and the
label ``secretary.io/role=modem``. An ingress actor asks for its modem's resource; every Serve
replica refuses the label (``label_selector`` in the profile). So a modem's pacer shares its
node with no model.
"""

from __future__ import annotations

import pytest
from ray.util.state import list_actors, list_nodes

from telephony.ingress_actor import ACTOR_NAME

pytestmark = pytest.mark.cluster
DASHBOARD = "http://127.0.0.1:8265"


def test_the_ingress_actor_is_on_the_modem_node_and_every_replica_elsewhere(modem_admin, local_cluster):
    if local_cluster is None:
        pytest.skip("an external cluster (SECRETARY_TEST_BASE_URL) has its own layout")
    nodes = {n.node_id: n for n in list_nodes(address=DASHBOARD, detail=True) if n.state == "ALIVE"}
    roles = {node_id: (n.labels or {}).get("secretary.io/role") for node_id, n in nodes.items()}
    assert sorted(roles.values(), key=str) == [None, "modem", "modem"]  # the head and two offices
    actors = list_actors(address=DASHBOARD, filters=[("state", "=", "ALIVE")], detail=True, limit=1000)
    (ingress,) = [a for a in actors if a.name == ACTOR_NAME]
    assert roles[ingress.node_id] == "modem" and nodes[ingress.node_id].resources_total.get("modem") == 1
    replicas = [a for a in actors if a.class_name.startswith("ServeReplica:")]
    deployments = {a.class_name.split(":")[-1] for a in replicas}
    assert {"LLMServer", "STTServer", "TTSServer", "OpenAIIngress", "AdminApi", "BillingApi", "ConsoleApp"} <= deployments
    assert all(roles[a.node_id] != "modem" for a in replicas), [(a.class_name, roles[a.node_id]) for a in replicas]
