"""The dashboard's read models: what each /ui page shows, assembled from named queries.

Reads only (no decision, no event, no clock: `now` is passed in), and no Flask: the HTTP
layer (api/blueprints/dashboard.py) renders these dicts with Jinja. Every read is an equality
(docs/dashboard.md says why: on FerretDB anything else decodes a whole collection) of the
small collections where possible: problems, chain documents (one per algo, which keep their
tasks' positions, counts and best model), and the ledger's recent events by commit minute;
learnuplets only by problem and status, or by algo, as the API's own lists filter them.
"""
