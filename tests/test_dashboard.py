"""The /ui dashboard through the test client: every page renders what the API says, reads
only (no method but GET and HEAD, nothing written), escapes what clients registered, and
answers with the API's authentication and security headers."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from conftest import new_uuid
from dashboard_history import ALGO_NAMES, build_history, pages
from helpers import snapshot

HTML = "text/html"


@pytest.fixture
def history(client):
    return build_history(client)


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == HTML
    return response.get_data(as_text=True)


def cells(html: str, row_marker: str) -> list[str]:
    """The cell texts of the first table row containing `row_marker`."""
    row = next(row for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S) if row_marker in row)
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_every_page_renders_with_the_api_headers(client, history):
    for url in [*pages(history).values(), "/ui/dashboard.css"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy and "unsafe-inline" not in policy


def test_problems_count_tasks_by_status_as_the_api_lists_them(client, history):
    html = page(client, "/ui/")
    row = cells(html, history["problem"][:8])
    statuses = Counter(task["status"] for task in client.learnuplets(problem=history["problem"]))
    # problem, algos, waiting, todo, pending, done, failed, finished, model, perf, algo
    assert row[1] == "3"
    assert row[2:8] == [str(statuses[name]) for name in ("waiting", "todo", "pending", "done",
                                                         "failed")] + \
        [str(statuses["done"] + statuses["failed"])]
    assert statuses == {"waiting": 7, "todo": 1, "pending": 2, "done": 6, "failed": 2}
    assert row[9] == "0.71" and "gradient-boost" in row[10]  # the best model and its algo


def test_problems_are_paged_with_the_api_tokens(client, history):
    client.problem()
    first = client.get("/ui/?limit=1")
    link = re.search(r'<a rel="next" href="([^"]+)"', first.get_data(as_text=True)).group(1)
    second = page(client, link.replace("&amp;", "&"))
    assert history["problem"][:8] not in second or history["problem"][:8] not in \
        first.get_data(as_text=True)
    assert client.get("/ui/?limit=0").status_code == 400
    assert client.get("/ui/?page_token=nonsense").status_code == 400


def test_one_problem_has_leaderboard_curves_and_test_perf(client, history):
    html = page(client, pages(history)["problem"])
    algos = history["algos"]
    first, second, third = (cells(html, f"/ui/algo/{algo}") for algo in algos)
    assert first[0] == "1" and first[3] == "0.71" and first[4] == "3"  # place, perf, rank
    assert second[0] == "2" and second[3] == "0.63" and second[4] == "1"
    assert third[0] == "—" and third[3] == "—"  # nothing done yet: last, unranked
    curves = re.findall(r'<svg class="curve".*?</svg>', html, re.S)
    assert len(curves) == 3
    assert curves[0].count('class="dot"') == 4 and curves[0].count('class="failed"') == 1
    assert "rank 4: failed" in curves[0] and "rank 3: perf 0.71" in curves[0]
    assert curves[2].count('class="dot"') == 0
    heat = html[html.index('class="heat"'):]
    assert cells(heat, f"/ui/algo/{algos[0]}")[1:] == ["0.71", "0.61", "0.51"]


def test_one_algo_shows_its_chain_rank_by_rank(client, history):
    html = page(client, pages(history)["algo"])
    worker = history["workers"][0]
    ranks = [cells(html, f">{rank}</td>\n  <td><code") for rank in range(6)]
    assert [rank[2] for rank in ranks] == ["done"] * 4 + ["failed", "pending"]
    assert ranks[0][3] == "0.52" and ranks[0][4] == worker[:8]
    assert ranks[5][4] == worker[:8] and ranks[5][7] != "—"  # held, with a lease
    assert "Push delivery is off" in html


def test_one_algo_shows_the_delivery_state_when_push_is_on(make_app, compute):
    from conftest import ApiClient

    client = ApiClient(make_app(COMPUTE_URL=compute.url).test_client())
    problem = client.problem()
    response = client.post("/algo", {"uuid": new_uuid(), "problem": problem["uuid"], "name": "a"})
    algo = response.get_json()["new_algo"]["uuid"]
    client.data(problem["uuid"], 2)
    html = page(client, f"/ui/algo/{algo}")
    assert "<th>delivery</th>" in html
    assert re.search(r"<td>(pending|delivered)", html), html


def test_the_chain_is_paged_by_rank_with_the_api_tokens(client):
    problem = client.problem(size=1)
    response = client.post("/algo", {"uuid": new_uuid(), "problem": problem["uuid"], "name": "a"})
    algo = response.get_json()["new_algo"]["uuid"]
    client.data(problem["uuid"], 60)
    html = page(client, f"/ui/algo/{algo}")
    assert "Ranks 0–49 of 60" in html and 'rel="first"' not in html
    link = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    later = page(client, link)
    assert "Ranks 50–59 of 60" in later and 'rel="first"' in later and 'rel="next"' not in later
    assert client.get(f"/ui/algo/{algo}?page_token=nonsense").status_code == 400


def test_workers_show_what_they_hold_and_recent_reports(client, history):
    html = page(client, "/ui/workers")
    first, second = history["workers"]
    assert f'worker <code title="{first}">' in html and f'worker <code title="{second}">' in html
    held = html[html.index(f'worker <code title="{second}">'):html.index("Recent reports")]
    assert history["preduplet"][:8] in held and history["algos"][1][:8] in held
    reports = html[html.index("Recent reports"):]
    assert reports.count(">failed</span>") == 2 and reports.count(">done</span>") == 6
    failed = cells(reports, ">failed</span>")
    assert failed[4] == second[:8] and failed[7] == "operator"  # its worker, the account


def test_recent_changes_show_what_the_ledger_recorded(client, history):
    html = page(client, "/ui/changes?limit=100")
    assert html.count("<td>problem registered</td>") == 1
    assert html.count("<td>algo registered</td>") == 3 and html.count("<td>chain planned</td>") == 3
    assert html.count("<td>claimed</td>") == 11 and ">failed</span>" in html
    assert "<td>6 data registered</td>" in html and "<td>prediction requested</td>" in html
    rows = page(client, "/ui/changes?limit=3")
    assert rows.count("<tr>") == 4 and "<td>claimed</td>" in rows  # the newest: the last claim


def test_names_are_escaped(client, history):
    for url in pages(history).values():
        html = page(client, url)
        assert "<b>linear</b>" not in html
    assert "&lt;b&gt;linear&lt;/b&gt;" in page(client, pages(history)["problem"])
    assert ALGO_NAMES[2] not in page(client, pages(history)["changes"] + "?limit=100")
    assert "&lt;b&gt;linear&lt;/b&gt;" in page(client, pages(history)["changes"] + "?limit=100")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_nothing_but_reads(client, history, db, method):
    before = snapshot(db)
    for url in [*pages(history).values(), "/ui/dashboard.css"]:
        response = client.flask.open(url, method=method, headers=client.headers, json={})
        assert response.status_code == 405, (url, method)
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert snapshot(db) == before


def test_pages_need_credentials(client, history):
    for url in [*pages(history).values(), "/ui/dashboard.css"]:
        response = client.flask.get(url)
        assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_unknown_and_malformed_documents(client):
    assert client.get(f"/ui/problem/{new_uuid()}").status_code == 404
    assert client.get(f"/ui/algo/{new_uuid()}").status_code == 404
    assert client.get("/ui/problem/not-a-uuid").status_code == 400
