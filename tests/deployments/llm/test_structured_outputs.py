"""Guided JSON is compact because the engine says so: vLLM ignores the per-request flag."""

from vllm.config import StructuredOutputsConfig

from deployments.llm.engine import _with_structured_outputs


def test_engine_args_ask_xgrammar_for_json_without_free_whitespace():
    args = _with_structured_outputs({"max_model_len": 2048})
    cfg = args["structured_outputs_config"]
    assert isinstance(cfg, StructuredOutputsConfig)
    assert (cfg.backend, cfg.disable_any_whitespace) == ("xgrammar", True)
    assert args["max_model_len"] == 2048


def test_a_profile_may_choose_its_own_structured_outputs_config():
    cfg = _with_structured_outputs({"structured_outputs_config": {"backend": "guidance"}})["structured_outputs_config"]
    assert (cfg.backend, cfg.disable_any_whitespace) == ("guidance", True)
    given = StructuredOutputsConfig(backend="xgrammar")
    assert _with_structured_outputs({"structured_outputs_config": given})["structured_outputs_config"] is given
