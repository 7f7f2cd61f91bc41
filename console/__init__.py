"""The owner's web console: static pages served at ``/console`` that talk only to the public APIs."""
