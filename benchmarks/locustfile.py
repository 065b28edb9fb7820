"""The load of the service's benchmarks, as Locust users (``benchmarks.common.locust`` names those to run).

* ``Poller``: one Running report (``--report-id``), asked for as fast as it answers;
* ``Visitor``: the health check, a Complete report (``--report-id``), one of the latest triggered reports
  and unknown ids (answering 404), 3:3:3:1; a report's GET is filed under the state its answer shows;
* ``Trigger`` (one): ``POST /trigger_report`` every ``--trigger-every`` s, each report polled every 0.1 s
  until it is Complete; ``Pusher``: batches of ``--batch`` new polls to ``POST /polls``.

At the end, Locust's figures of each kind of request and the triggers' outcome go to ``--figures`` (JSON).
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections import deque
from typing import Any

from locust import FastHttpUser, constant_pacing, events, task
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import ResponseContextManager
from locust.env import Environment

RECENT: deque[str] = deque(maxlen=4)  # the latest triggered reports, which visitors ask for
OUTCOME: dict[str, Any] = {"triggered": 0, "completed": 0, "failed": 0, "seconds_to_csv": []}
BATCHES = itertools.count()


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: LocustArgumentParser) -> None:
    parser.add_argument("--report-id", default="", help="the report Poller and Visitor ask for")
    parser.add_argument("--trigger-every", type=float, default=1.0, help="seconds between triggers")
    parser.add_argument("--batch", type=int, default=1000, help="polls per POST /polls")
    parser.add_argument("--figures", default="", help="JSON file of the figures, written at the end")


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write_figures(environment: Environment, **_: Any) -> None:
    """Locust's own statistics (its CSV file is written every second, so it may miss the last one)."""
    stats = environment.stats
    figures = {
        entry.name: {"requests": entry.num_requests, "errors": entry.num_failures,
                     "requests_per_s": round(entry.total_rps, 1),
                     **{f"p{p}_ms": float(entry.get_response_time_percentile(p / 100)) for p in (50, 95, 99)}}
        for entry in [*stats.entries.values(), stats.total]
    }
    if environment.parsed_options and environment.parsed_options.figures:
        with open(environment.parsed_options.figures, "w", encoding="utf-8") as out:
            json.dump({"requests": figures, "triggers": OUTCOME}, out)


def shown(response: ResponseContextManager) -> str | None:
    """The state a 200 answer of ``GET /get_report`` shows, if any."""
    if response.status_code != 200:
        return None
    if response.headers is not None and str(response.headers.get("Content-Type", "")).startswith("text/csv"):
        return "Complete, CSV"
    state = response.json().get("status")
    return state if state in ("Running", "Failed") else None


class Reports(FastHttpUser):
    abstract = True

    def report(self, report_id: str) -> str | None:
        """``GET /get_report/<id>``, filed under the state its answer shows."""
        with self.client.get(f"/get_report/{report_id}", name="GET /get_report", catch_response=True) as response:
            state = shown(response)
            response.request_meta["name"] = f"GET /get_report ({state or 'known id: not 200'})"
            if state is None:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:120]}")
        return state


class Poller(FastHttpUser):
    @task
    def poll(self) -> None:
        self.client.get(f"/get_report/{self.environment.parsed_options.report_id}", name="GET /get_report (Running)")


class Visitor(Reports):
    @task(3)
    def health(self) -> None:
        self.client.get("/health", name="GET /health")

    @task(3)
    def complete(self) -> None:
        self.report(self.environment.parsed_options.report_id)

    @task(3)
    def recent(self) -> None:
        self.report(random.choice(RECENT) if RECENT else self.environment.parsed_options.report_id)

    @task(1)
    def unknown(self) -> None:
        name = "GET /get_report (unknown id: 404 expected)"
        with self.client.get(f"/get_report/{uuid.uuid4()}", name=name, catch_response=True) as response:
            response.success() if response.status_code == 404 else response.failure(f"HTTP {response.status_code}")


class Trigger(Reports):
    fixed_count = 1

    def wait_time(self) -> float:
        return float(constant_pacing(self.environment.parsed_options.trigger_every)(self))

    @task
    def trigger(self) -> None:
        started = time.perf_counter()
        with self.client.post("/trigger_report", name="POST /trigger_report", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            report_id = str(response.json()["report_id"])
        RECENT.append(report_id)
        OUTCOME["triggered"] += 1
        # Polled within the task: the end of the load waits (--stop-timeout) for the last report.
        while (state := self.report(report_id)) == "Running":
            time.sleep(0.1)  # gevent's: Locust patched the standard library
        OUTCOME["completed" if state == "Complete, CSV" else "failed"] += 1
        OUTCOME["seconds_to_csv"] += [time.perf_counter() - started] if state == "Complete, CSV" else []


class Pusher(FastHttpUser):
    @task
    def push(self) -> None:
        batch = self.environment.parsed_options.batch
        first_us = 1_700_000_000_000_000 + next(BATCHES) * batch * 1_000  # fresh instants: every poll is new
        polls = [{"store_id": f"store-{i % 1000}", "status": "active" if i % 7 else "inactive",
                  "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((first_us + i * 1_000) // 10**6))
                  + f".{(first_us + i * 1_000) % 10**6:06d}Z"} for i in range(batch)]
        with self.client.post("/polls", json=polls, name="POST /polls", catch_response=True) as response:
            if response.status_code != 200 or response.json().get("new") != batch:
                response.failure(f"HTTP {response.status_code}, not every poll new: {(response.text or '')[:120]}")
