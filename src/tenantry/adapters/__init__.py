"""The outside world's I/O, behind the small protocols the domain declares: sending mail over
SMTP (or to the log), outbound HTTP for webhooks, fetching issuers' JWKS documents, rendering
mail templates. Policy (what to send, when to retry, which addresses are allowed) stays in the
domain; the database is `tenantry.storage`'s."""
