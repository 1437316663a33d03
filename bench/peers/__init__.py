"""Peer applications for `python -m bench.peer`. Each runs in its own virtualenv (see the
`bench-peer` dependency group in pyproject.toml), never imported by Tenantry or the bench."""
