"""Faults on demand (sandbox/faults.py): statuses, Retry-After, slow answers, dropped
connections before and after processing, seeded determinism, run-time control."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI

from sandbox.faults import ADMIN_PATH, FaultMiddleware, FaultPlan, Faults
from sandbox.serve import serve_in_thread


def _app() -> tuple[FastAPI, list[int]]:
    seen: list[int] = []
    app = FastAPI()

    @app.post("/job/{n}")
    def work(n: int) -> dict[str, int]:
        seen.append(n)
        return {"n": n}

    return app, seen


@pytest.fixture()
def served():
    app, seen = _app()
    faults = Faults()
    with serve_in_thread(FaultMiddleware(app, faults)) as url:
        yield url, faults, seen


def test_statuses_follow_the_seeded_plan_and_are_reproducible(served) -> None:
    url, faults, seen = served
    plan = FaultPlan(rate_500=0.1, rate_502=0.1, rate_503=0.1, rate_429=0.2, seed=11)
    outcomes = []
    for attempt in range(2):
        faults.configure(plan)
        with httpx.Client(base_url=url) as client:
            codes = [client.post(f"/job/{i}").status_code for i in range(200)]
        outcomes.append(codes)
        if attempt == 0:
            served_ok = list(seen)
    assert outcomes[0] == outcomes[1]  # same seed, same sequence
    counts = {c: outcomes[0].count(c) for c in (200, 500, 502, 503, 429)}
    assert sum(counts.values()) == 200
    assert all(counts[c] > 0 for c in counts)
    assert 20 <= counts[429] <= 60
    assert len(served_ok) == counts[200]  # a faulted request never reached the app


def test_429_and_503_carry_retry_after(served) -> None:
    url, faults, _ = served
    faults.configure(FaultPlan(rate_429=1.0, retry_after_s=3))
    response = httpx.post(f"{url}/job/1")
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")
    faults.configure(FaultPlan(rate_503=1.0, retry_after_s=2))
    assert httpx.post(f"{url}/job/1").headers["retry-after"] == "2"


def test_dropped_connections_before_and_after_processing(served) -> None:
    url, faults, seen = served
    faults.configure(FaultPlan(rate_drop=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{url}/job/1")
    assert seen == []
    faults.configure(FaultPlan(rate_drop_after=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{url}/job/2")
    assert seen == [2]  # the work happened, the answer was lost


def test_slow_answers_time_out_but_still_take_effect(served) -> None:
    url, faults, seen = served
    faults.configure(FaultPlan(rate_slow=1.0, slow_s=0.5))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/job/3", timeout=0.1)
    faults.off()
    assert httpx.post(f"{url}/job/4").status_code == 200
    for _ in range(100):  # wait (bounded) for the slow request to finish on the server
        if 3 in seen:
            break
        time.sleep(0.05)
    assert sorted(seen) == [3, 4]


def test_the_plan_is_adjustable_over_http(served) -> None:
    url, _, _ = served
    response = httpx.put(f"{url}{ADMIN_PATH}", json={"rate_503": 1.0, "seed": 5})
    assert response.status_code == 200
    assert response.json()["plan"]["rate_503"] == 1.0
    assert httpx.post(f"{url}/job/1").status_code == 503
    stats = httpx.get(f"{url}{ADMIN_PATH}").json()["stats"]
    assert stats["503"] == 1
    assert httpx.put(f"{url}{ADMIN_PATH}", json={"rate_500": 2}).status_code == 400
    assert httpx.put(f"{url}{ADMIN_PATH}", json={}).status_code == 200
    assert httpx.post(f"{url}/job/1").status_code == 200
