"""Request and response bodies of the REST API, separate from the ORM models; a module per
area."""
