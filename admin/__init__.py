"""The admin API: its own Serve application (``/admin``), routes per domain, one auth hook."""
