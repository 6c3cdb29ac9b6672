"""Register a small problem for the example worker: a problem, its test and train data, and an
algo, whose training chain the Orchestrator plans (one learnuplet per mini-batch).

    ORCHESTRATOR_URL=http://localhost:5000 USER_AUTH=admin PWD_AUTH=change-me \
        python examples/register_demo.py --train-data 4

Prints the problem and algo uuids; run examples/worker.py next.
"""
from __future__ import annotations

import argparse

from orchestrator_client import Client, new_uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-data", type=int, default=4, help="training data to register")
    parser.add_argument("--batch", type=int, default=2, help="training data per learnuplet")
    options = parser.parse_args()

    with Client.from_env() as orchestrator:
        test_data = [new_uuid(), new_uuid()]
        problem = orchestrator.create_problem(workflow=new_uuid(), test_dataset=test_data,
                                              size_train_dataset=options.batch).document
        train_data = [new_uuid() for _ in range(options.train_data)]
        orchestrator.create_data(uuids=test_data + train_data, problems=problem["uuid"])
        algo = orchestrator.create_algo(problem=problem["uuid"], name="demo regression")
        print(f"problem {problem['uuid']}")
        print(f"algo {algo.document['uuid']}: {algo.new_learnuplets} learnuplets planned")


if __name__ == "__main__":
    main()
