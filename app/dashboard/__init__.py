"""The dashboard's read models: what each /ui page shows, assembled from named queries.

Reads only (no decision, no event, no clock: `now` is passed in), and no Flask: the HTTP
layer (api/blueprints/dashboard.py) renders these dicts with Jinja. Each page reads a fixed
number of small things whatever the size of the database: problems and chain documents (one
per algo), learnuplets by the uuids their algo and rank derive (never a filter over all
learnuplets), and the newest documents by a timestamp index.
"""
