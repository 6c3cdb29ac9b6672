"""An example compute worker built on the worker kit: it trains learnuplets and makes
predictions (both simulated here: replace train() and predict() with your own).

Pull mode, against the README's quick start:

    pip install ./client
    ORCHESTRATOR_URL=http://localhost:5000 USER_AUTH=admin PWD_AUTH=change-me \
        python examples/worker.py

Push mode: start the Orchestrator with COMPUTE_URL=http://127.0.0.1:8000 and run
`python examples/worker.py --push 8000`. Stop the worker with Ctrl-C: it finishes and
reports the task under way first.
"""
from __future__ import annotations

import argparse
import functools
import logging
import random
import signal
import time
from typing import Any

from orchestrator_client import Client, Learnuplet, Preduplet, PushReceiver, Training, Worker, new_uuid


def train(learnuplet: Learnuplet, seconds: float = 2.0) -> Training:
    """Your training goes here: fetch the data and `model_start` from Storage, train, store
    `model_end`, and measure the performance on the train and test data."""
    time.sleep(seconds)
    perf = round(random.uniform(0.6, 0.95), 3)
    return Training(perf=perf,
                    train_perf={data: perf for data in learnuplet["train_data"]},
                    test_perf={data: perf for data in learnuplet["test_data"]})


def predict(preduplet: Preduplet, seconds: float = 0.5) -> str:
    """Your prediction goes here: run `model` on `data`, store the prediction on Storage and
    return the uuid it is stored under."""
    time.sleep(seconds)
    return new_uuid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--push", type=int, metavar="PORT",
                        help="receive pushed tasks on this port (the Orchestrator's COMPUTE_URL)")
    parser.add_argument("--problem", help="only tasks of this problem (pull mode)")
    parser.add_argument("--max-tasks", type=int, help="stop after this many tasks")
    parser.add_argument("--seconds", type=float, default=2.0, help="time one training takes")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    receiver = PushReceiver("127.0.0.1", options.push).start() if options.push else None
    filters: dict[str, Any] = {"problem": options.problem} if options.problem else {}
    worker = Worker(Client.from_env(), train=functools.partial(train, seconds=options.seconds),
                    predict=functools.partial(predict, seconds=options.seconds / 4),
                    source=receiver, filters=filters, poll_seconds=2.0)

    def stop(*_: Any) -> None:
        logging.info("stopping after the task under way (Ctrl-C again to quit at once)")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        worker.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    logging.info("worker %s taking tasks %s", worker.uuid,
                 f"pushed to {receiver.url}" if receiver else "by polling")
    try:
        worker.run(max_tasks=options.max_tasks)
    finally:
        if receiver is not None:
            receiver.close()
    logging.info("outcomes: %s", {outcome.value: count for outcome, count in worker.outcomes.items()})


if __name__ == "__main__":
    main()
