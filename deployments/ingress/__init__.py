"""The OpenAI-compatible HTTP ingress (FastAPI on Ray Serve): routes -> model handles."""
