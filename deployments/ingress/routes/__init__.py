"""HTTP routes of the ingress, one module per API area."""
