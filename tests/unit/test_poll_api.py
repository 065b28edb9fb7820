"""``POST /polls``: a batch of polls validated like CSV rows, stored at once, counted honestly."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from dependency_injector import providers
from fakes import App, AppMaker, make_app
from documented import DOCUMENT, conforms

from adapters.memory.data import InMemoryStatusRepository
from domain.model.inputs import StatusPolls
from domain.ports.data import IngestionLog, RepositoryError


@attrs.define
class Api(App):
    @property
    def log(self) -> IngestionLog:
        log: IngestionLog = self.container.ingestion_log()
        return log

    def push(
        self, polls: Any, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        body = polls if isinstance(polls, (str, bytes)) else json.dumps(polls)
        response = self.client.post("/polls", data=body, content_type=content_type, headers=headers or {})
        # Every answer is held to the OpenAPI document.
        assert response.mimetype == "application/json"
        documented = DOCUMENT["paths"]["/polls"]["post"]["responses"]
        assert str(response.status_code) in documented
        schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
        assert conforms(response.get_json(), schema), response.get_json()
        return response.status_code, response.get_json()

    def stored(self) -> list[tuple[str, int, bool]]:
        return self.status.polls_since(0, snapshot=self.log.latest_complete()).rows()


@pytest.fixture
def api(make_app: AppMaker) -> Api:
    return make_app(Api, settings={"polls_max_items": "5"})


def poll(store_id: str, status: str = "active", at: str = "2023-01-22 12:09:39.388884 UTC") -> dict[str, str]:
    return {"store_id": store_id, "status": status, "timestamp_utc": at}


def test_valid_polls_are_stored_and_visible_at_once(api: Api) -> None:
    status, body = api.push([poll("a"), poll("b", "inactive", "2023-01-22T13:00:00Z")])

    assert status == 200
    assert body == {"rows": 2, "new": 2, "already_stored": 0, "duplicates": 0, "rejected": 0, "errors": []}
    assert [(store, active) for store, _, active in api.stored()] == [("a", True), ("b", False)]


def test_bad_polls_are_rejected_by_position_and_the_others_stored(api: Api) -> None:
    status, body = api.push(
        [
            poll("a"),
            poll("b", "sleeping"),
            {"store_id": "c", "status": "active"},
            poll("d\x00"),
            poll("e", at="9999-12-31 23:59:59 UTC"),
        ]
    )

    assert status == 200
    assert (body["rows"], body["new"], body["rejected"]) == (5, 1, 4)
    assert [error["poll"] for error in body["errors"]] == [1, 2, 3, 4]
    assert "active" in body["errors"][0]["reason"] and "timestamp_utc" in body["errors"][1]["reason"]
    assert "control character" in body["errors"][2]["reason"]
    assert "clock" in body["errors"][3]["reason"]
    assert [store for store, _, _ in api.stored()] == ["a"]


def test_pushing_again_stores_nothing_twice_and_counts_add_up(api: Api) -> None:
    api.push([poll("a"), poll("b")])

    _, body = api.push([poll("a"), poll("a"), poll("c"), poll("x", "?")])

    assert body == {
        "rows": 4,
        "new": 1,
        "already_stored": 1,
        "duplicates": 1,
        "rejected": 1,
        "errors": [{"poll": 3, "reason": body["errors"][0]["reason"]}],
    }
    assert body["rows"] == body["new"] + body["already_stored"] + body["duplicates"] + body["rejected"]
    assert len(api.stored()) == 3


def test_ndjson_is_taken_one_poll_per_line(api: Api) -> None:
    lines = "\n".join(json.dumps(p) for p in (poll("a"), poll("b"))) + "\n\n"
    status, body = api.push(lines, "application/x-ndjson")
    assert status == 200 and body["new"] == 2


def test_a_batch_over_the_limit_is_refused_with_413_and_nothing_stored(api: Api) -> None:
    status, body = api.push([poll(str(i)) for i in range(6)])
    assert status == 413 and "POLLS_MAX_ITEMS" in body["error"]
    assert api.stored() == []


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("{not json", "application/json", 400),
        ('{"store_id": "a"}', "application/json", 400),
        ("store_id,status\n", "text/csv", 415),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused(api: Api, body: str, content_type: str, expected: int) -> None:
    status, answer = api.push(body, content_type)
    assert status == expected and isinstance(answer["error"], str)
    assert api.stored() == []


def test_polls_need_the_token_like_the_rest(make_app: AppMaker) -> None:
    api = make_app(Api, settings={"api_token": "s3cret-token"})
    assert api.push([poll("a")])[0] == 401
    assert api.push([poll("a")], headers={"Authorization": "Bearer s3cret-token"})[0] == 200


class DownStatusRepository(InMemoryStatusRepository):
    def add(self, polls: StatusPolls, *, version: int) -> int:
        raise RepositoryError("database is locked")


def test_a_database_that_does_not_answer_is_a_503(api: Api) -> None:
    api.container.status_repository.override(providers.Object(DownStatusRepository()))
    status, body = api.push([poll("a")])
    assert status == 503 and "database" in body["error"]


# One request per documented status; push() holds each answer to the document.
CASES: dict[str, Callable[[Api], int]] = {
    "200": lambda api: api.push([poll("a")])[0],
    "400": lambda api: api.push("[", "application/json")[0],
    "413": lambda api: api.push([poll(str(i)) for i in range(6)])[0],
    "415": lambda api: api.push("a,b", "text/csv")[0],
    "503": lambda api: (
        api.container.status_repository.override(providers.Object(DownStatusRepository())),
        api.push([poll("a")])[0],
    )[1],
}


def test_every_documented_status_but_401_has_a_case() -> None:
    # 401 is test_polls_need_the_token_like_the_rest.
    assert set(CASES) | {"401"} == set(DOCUMENT["paths"]["/polls"]["post"]["responses"])


@pytest.mark.parametrize("status", sorted(CASES))
def test_each_documented_status_is_what_its_case_answers(api: Api, status: str) -> None:
    assert str(CASES[status](api)) == status
