"""The floor of this stack: bare Flask + PyMongo, each handler ONE database operation.

No auth, no validation, no ledger, no problem JSON: the same query the Orchestrator sends
for the same route, and nothing else. Started exactly like the Orchestrator:
`gunicorn --config gunicorn_config.py "bench.baseline:create_app()"` (MONGO_URI from the
environment).

Like the Orchestrator, it writes one access-log line per request through the logging that
gunicorn_config.py sets up (gunicorn's own access log is off, the Orchestrator writes its
own): both apps pay for the same log line, as both paid for gunicorn's before.

The claim and report routes are the two single-document updates a task store needs at
the very least. They bypass the ledger, so the benchmark points them only at learnuplets
of algos the Orchestrator's workers never touch. The claim accepts a `waiting` task too,
because the baseline has no chain to promote the next rank (that is the Orchestrator's job).
"""
from __future__ import annotations

import logging
import os
import time

from flask import Flask, g, jsonify, request
from pymongo import MongoClient

LIST_FIELDS_INT = {"rank", "size_train_dataset", "timestamp_upload", "timestamp_creation",
                   "timestamp_done", "timestamp_request"}


def create_app() -> Flask:
    app = Flask(__name__)
    client = MongoClient(os.environ["MONGO_URI"])
    db = client.get_default_database("orchestrator")
    access = logging.getLogger("baseline.access")

    @app.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def logged(response):
        access.info("%s %s %d %.1fms", request.method, request.path, response.status_code,
                    (time.perf_counter() - g.started) * 1000)
        return response

    @app.get("/<collection>/<uuid>")
    def one(collection: str, uuid: str):
        document = db[collection].find_one({"_id": uuid}, {"_id": 0, "seq": 0})
        if document is None:
            return {"detail": "not found"}, 404
        return jsonify(document)

    @app.get("/<collection>")
    def many(collection: str):
        args = request.args.to_dict()
        limit = int(args.pop("limit", 1000))
        after = args.pop("after", None)
        query = {key: int(value) if key in LIST_FIELDS_INT else value for key, value in args.items()}
        if after:
            query["seq"] = {"$gt": after}
        documents = list(db[collection].find(query, {"_id": 0}, sort=[("seq", 1)], limit=limit + 1))
        body = {f"{collection}s": [{k: v for k, v in d.items() if k != "seq"} for d in documents[:limit]]}
        if len(documents) > limit:
            body["next_after"] = documents[limit - 1]["seq"]
        return jsonify(body)

    @app.post("/worker/learnuplet/<uuid>")
    def claim(uuid: str):
        worker = request.get_json()["worker"]
        result = db.learnuplet.update_one(
            {"_id": uuid, "status": {"$in": ["todo", "waiting"]}},
            {"$set": {"status": "pending", "worker": worker, "timestamp_claimed": int(time.time())}})
        if not result.modified_count:
            return {"detail": "not todo"}, 409
        return {"learnuplet_worker_set": uuid}

    @app.post("/learndone/<uuid>")
    def learndone(uuid: str):
        body = request.get_json()
        result = db.learnuplet.update_one(
            {"_id": uuid, "status": "pending"},
            {"$set": {"status": body["status"], "perf": body.get("perf"),
                      "train_perf": body.get("train_perf"), "test_perf": body.get("test_perf"),
                      "timestamp_done": int(time.time())}})
        if not result.modified_count:
            return {"detail": "not pending"}, 409
        return {"updated_learnuplet": uuid}

    return app
