"""The ``secretary`` command line: provisioning, the local CPU-profile cluster and the demo."""
