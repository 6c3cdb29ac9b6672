"""The HTTP layer: the only package that imports Flask (blueprints, request schemas, listing,
auth, OpenAPI, and the translation of business errors into problem JSON)."""
