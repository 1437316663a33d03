"""`python -m tenantry` is the `tenantry` command."""

from tenantry.transports.cli.main import app

app(prog_name="tenantry")
