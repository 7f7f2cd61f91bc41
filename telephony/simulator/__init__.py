"""A faithful SIM7600G-H simulator on pseudo-terminals (spec: shared/spec/sim7600.md §5)."""
