"""Hostile files, hostile servers and a ledger in a bad way: one bad post,
file or answer never stops the others, nothing outside the project is
read, no secret is shown, and every failure is one clear line."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from megaphone.errors import OutcomeUnknown, RateLimited, ReadFailed
from megaphone.networks.contract import PostRequest, Timeouts
from megaphone.networks.x.client import XNetwork
from megaphone.store.ledger import Ledger, default_url
from tests.conftest import sign_in
from tests.fakex import FakeX, User
from tests.test_publish import publish, state
from tests.test_x_adapter import creds

CONFIG = "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n"
ONE = "account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n"


@pytest.fixture
def user(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    return sign_in(fakex, monkeypatch, "utla", "utlanow")


def no_traceback(output: str) -> None:
    assert "Traceback" not in output and "internal error" not in output, output


# ------------------------------------------------- one bad value, one post


def test_times_out_of_range_and_zone_folders_are_one_posts_error(
    fakex: FakeX, user: User, project, run, clock
) -> None:
    root = project(
        {"megaphone.yaml": CONFIG},
        good=ONE,
        bad="account: utla\nposts:\n"
        "  - {id: far, at: 2026-11-29 11:58, expires: 9999-12-31 23:59, text: Far.}\n"
        "  - {id: early, at: 0001-01-01 00:00, text: Early.}\n",
        zone="account: utla\ntimezone: America\nposts:\n"
        "  - {id: zoned, at: 2026-11-29 11:57, text: Zoned.}\n",
    )
    result = run("validate", cwd=root)
    assert result.exit_code == 1
    no_traceback(result.output)
    assert "posts/bad.yaml" in result.output and "9999-12-31" in result.output
    assert "unknown time zone 'America'" in result.output
    sent = publish(run, root, "--due")
    no_traceback(sent.output)
    assert sent.exit_code == 1  # the bad ones are reported...
    assert [t.sent_text for t in fakex.posted()] == ["Hello."]  # ...the good one goes out


def test_a_ring_of_replies_and_quotes_is_an_error_naming_it(project, run) -> None:
    root = project(
        ring="account: utla\nposts:\n"
        "  - {id: a, at: 2026-12-01 09:00, text: A., reply_to: b}\n"
        "  - {id: b, at: 2026-12-01 10:00, text: B., quote: c}\n"
        "  - {id: c, at: 2026-12-01 11:00, text: C., reply_to: a}\n"
    )
    result = run("validate", "--format", "json", cwd=root)
    import json

    found = [p for p in json.loads(result.output) if p["code"] == "reference-cycle"]
    assert len(found) == 3 and all(p["severity"] == "error" for p in found)
    assert "a → b → c → a" in next(p["message"] for p in found if p["post_id"] == "a")


# ------------------------------------------------------- hostile answers


@pytest.fixture
def x(fakex: FakeX) -> Iterator[XNetwork]:
    net = XNetwork(creds(fakex, fakex.add_user("utlanow")), timeouts=Timeouts(2, 2))
    yield net
    net.close()


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("text/html", b"<html><body>Bad gateway, have a nice day</body></html>"),
        ("application/json", b"[1, 2, 3]"),
        ("application/json", b'{"data": {"id": null}}'),
        ("application/json", b'{"data": {"id": {"nested": 1}}}'),
        ("application/json", b'{"data": "yes"}'),
        ("application/json", b"{}"),
    ],
)
def test_a_write_whose_answer_cannot_be_read_is_unknown(
    fakex: FakeX, x: XNetwork, kind: str, body: bytes
) -> None:
    x.whoami()
    fakex.answer_all = (201, kind, body)
    with pytest.raises(OutcomeUnknown):
        x.create_post(PostRequest("hello"))


@pytest.mark.parametrize(
    "body",
    [
        b"<html>nope</html>",
        b'{"data": {"not": "a list"}}',
        b'{"data": [{"text": "no id"}]}',
        b'{"data": [{"id": "1", "text": "t", "created_at": "yesterday-ish"}]}',
        b'{"data": [{"id": null, "text": "t"}]}',
        b'{"data": [{"id": "1"}]}',
    ],
)
def test_a_lookup_whose_answer_cannot_be_read_is_a_failed_read(
    fakex: FakeX, x: XNetwork, body: bytes
) -> None:
    from datetime import UTC, datetime

    x.whoami()
    fakex.answer_all = (200, "application/json", body)
    with pytest.raises(ReadFailed):
        x.find_sent(PostRequest("hello"), since=datetime.now(UTC))


@pytest.mark.parametrize("reset", ["99999999999999999999", "soon", "-5", "1", "1e9"])
def test_an_absurd_rate_limit_reset_is_not_believed(fakex: FakeX, x: XNetwork, reset: str) -> None:
    fakex.fault("POST", "/2/tweets", "status", status=429, headers={"x-rate-limit-reset": reset})
    # The fake sets its own reset for a 429: give ours the last word.
    fakex.faults[-1].reset_in = None
    with pytest.raises(RateLimited) as caught:
        x.create_post(PostRequest("hello"))
    assert caught.value.reset_at is None or abs(caught.value.reset_at - time.time()) < 86400


def test_a_429_with_an_absurd_reset_defers_the_post_without_a_crash(
    fakex: FakeX, user: User, project, run, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fault = fakex.fault("POST", "/2/tweets", "status", status=429)
    fault.headers = {"x-rate-limit-reset": "99999999999999999999"}
    result = publish(run, root, "--due")
    no_traceback(result.output)
    assert result.exit_code == 75 and "rate limited" in result.output
    assert state(root, "one") == "scheduled"


def _trickler() -> tuple[int, threading.Event]:
    """A server that answers one byte every 0.2 s, for ever (until told)."""
    done = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        listener.settimeout(5)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 50:
                if done.is_set():
                    break
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.2)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], done


def test_a_server_that_trickles_is_cut_off_at_the_deadline(fakex: FakeX) -> None:
    port, done = _trickler()
    user = fakex.add_user("utlanow")
    net = XNetwork(
        creds(fakex, user, api_url=f"http://127.0.0.1:{port}"),
        timeouts=Timeouts(connect=1, read=1, deadline=1.5),
    )
    from megaphone.networks.http import DeadlineExceeded

    started = time.monotonic()
    try:
        with pytest.raises(DeadlineExceeded, match="within"):
            net.client.session.request("POST", f"http://127.0.0.1:{port}/2/tweets")
    finally:
        done.set()
    assert time.monotonic() - started < 4


def test_the_networks_clock_is_read_again_only_when_its_date_changes(
    fakex: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many answers a second in a burst carry the same Date: it is parsed
    # once, and the skew follows the network's clock when the Date moves.
    import email.utils

    user = fakex.add_user("utlaclock")
    net = XNetwork(creds(fakex, user))
    parsed: list[str] = []
    real = email.utils.parsedate_to_datetime

    def counting(value: str) -> object:
        parsed.append(value)
        return real(value)

    monkeypatch.setattr(email.utils, "parsedate_to_datetime", counting)
    for i in range(5):
        net.create_post(PostRequest(f"Same second, post {i}"))
    assert net.clock_skew() == 0
    assert len(parsed) <= 2  # a second may turn meanwhile; five answers, not five parses
    fakex.clock_offset = 600
    net.create_post(PostRequest("The network's clock moved on"))
    assert net.clock_skew() == 600


def test_deadlines_are_kept_by_one_thread_whatever_the_requests(
    fakex: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread started a request (a timer) would cost every post a thread's
    # start and a wait for it; one watchdog keeps every deadline.
    user = fakex.add_user("utlanow")
    net = XNetwork(creds(fakex, user), timeouts=Timeouts(connect=1, read=1, deadline=1.5))
    net.whoami()  # the watchdog is running
    started: list[str] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    for _ in range(20):
        net._me = None
        net.whoami()
    assert started == []


def test_a_post_to_a_trickling_server_is_unknown_in_bounded_time(fakex: FakeX) -> None:
    port, done = _trickler()
    user = fakex.add_user("utlanow")
    net = XNetwork(
        creds(fakex, user, api_url=f"http://127.0.0.1:{port}"),
        timeouts=Timeouts(connect=1, read=1, deadline=1.5),
    )
    net._me = None
    started = time.monotonic()
    try:
        with pytest.raises(ReadFailed):
            net.whoami()
    finally:
        done.set()
    assert time.monotonic() - started < 4


def test_a_redirect_is_never_followed(fakex: FakeX, user: User, project, run, clock) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.fault(
        "POST",
        "/2/tweets",
        "status",
        status=302,
        headers={"Location": fakex.url + "/elsewhere/tweets"},
    )
    result = publish(run, root, "--due")
    no_traceback(result.output)
    assert fakex.count("POST", "/elsewhere/tweets") == 0
    assert fakex.count("GET", "/elsewhere/tweets") == 0
    assert state(root, "one") == "unknown" and "redirect" in result.output
    # A 307 says "send it there instead": not acted on, and not followed.
    root2 = project(
        {"megaphone.yaml": CONFIG},
        one="account: utla\nposts:\n  - {id: two, at: 2026-11-29 11:59, text: Two.}\n",
    )
    fakex.fault(
        "POST", "/2/tweets", "status", status=307, headers={"Location": "https://x.example"}
    )
    publish(run, root2, "--due")
    assert state(root2, "two") == "failed"
    assert fakex.posted() == []


def test_control_characters_from_the_network_are_shown_as_stand_ins(
    fakex: FakeX, user: User, project, run, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.fault(
        "POST",
        "/2/tweets",
        "status",
        status=400,
        body={"detail": "nope \x1b]0;pwned\x07 \x1b[2J \x9b31m"},
    )
    result = publish(run, root, "--due")
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\x9b" not in result.output and "␛" in result.output
    for command in (("status",), ("status", "--json")):
        shown = run(*command, cwd=root).output
        assert "\x1b" not in shown and "\x9b" not in shown, command


# ------------------------------------------------- nothing outside is read


def test_queue_files_linked_outside_the_project_or_to_secrets_are_not_read(
    project, run, tmp_path: Path
) -> None:
    root = project(good=ONE)
    (root / ".env").write_text("MEGAPHONE_UTLA_API_SECRET=hunter2-very-secret\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text("account: utla\nposts: [{id: stolen, at: 2026-12-01 09:00, text: x}]\n")
    (root / "posts" / "env.yaml").symlink_to("../.env")
    (root / "posts" / "environ.yaml").symlink_to("/proc/self/environ")
    (root / "posts" / "outside.yaml").symlink_to(outside)
    os.environ["MEGAPHONE_CANARY"] = "canary-value-42"
    try:
        for fmt in ("human", "json", "github"):
            result = run("validate", "--format", fmt, cwd=root)
            assert "hunter2" not in result.output and "canary-value-42" not in result.output
            assert "stolen" not in result.output
            assert result.output.count("file-refused") >= 3, result.output
    finally:
        del os.environ["MEGAPHONE_CANARY"]
    preview = run("preview", cwd=root).output
    assert "hunter2" not in preview and "stolen" not in preview


def test_fifos_devices_and_huge_files_are_refused_without_reading(project, run) -> None:
    root = project(good=ONE)
    os.mkfifo(root / "posts" / "pipe.yaml")
    (root / "posts" / "zero.yaml").symlink_to("/dev/zero")
    (root / "posts" / "huge.yaml").write_bytes(b"# padding\n" * (11 * 1024 * 1024 // 10))
    started = time.monotonic()
    result = run("validate", cwd=root)
    assert time.monotonic() - started < 20
    assert result.output.count("file-refused") == 3, result.output


def test_a_posts_folder_outside_the_project_is_refused(project, run, tmp_path: Path) -> None:
    root = project({"megaphone.yaml": CONFIG + "posts: ../elsewhere\n"}, good=ONE)
    result = run("validate", cwd=root)
    assert result.exit_code == 1
    assert "megaphone.yaml" in result.output and "5:8 error" in result.output
    assert "outside the project" in result.output


def test_urls_with_credentials_are_redacted_and_plain_http_is_refused(
    project, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(
        {
            "megaphone.yaml": CONFIG.replace(
                "  - name: utla\n    network: x\n",
                "  - name: utla\n    network: x\n    api_url: https://proxyuser:hunter2@proxy.example\n"
                "  - name: other\n    network: x\n    api_url: http://10.1.2.3/api\n"
                "  - name: third\n    network: x\n    api_url: file:///etc/passwd\n",
            )
        },
        good=ONE,
    )
    for key in ("API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_SECRET"):
        monkeypatch.setenv(f"MEGAPHONE_UTLA_{key}", "x")
    listed = run("accounts", cwd=root).output
    assert "hunter2" not in listed and "***@proxy.example" in listed
    checked = run("validate", cwd=root).output
    assert "hunter2" not in checked
    assert "http://10.1.2.3/api" in checked and "unencrypted" in checked
    assert "file" in checked and "only https://" in checked
    monkeypatch.setenv("MEGAPHONE_UTLA_API_URL", "http://user:hunter3@198.51.100.7")
    result = run("accounts", cwd=root)
    assert result.exit_code == 1 and "hunter3" not in result.output
    assert "MEGAPHONE_UTLA_API_URL" in result.output


@pytest.mark.parametrize("names", [("reclaim-la", "reclaim_la"), ("utla", "UTLA")])
def test_account_names_that_would_share_credentials_are_refused(
    project, run, names: tuple[str, str]
) -> None:
    config = "timezone: UTC\naccounts:\n" + "".join(
        f"  - name: {n}\n    network: x\n" for n in names
    )
    root = project({"megaphone.yaml": config}, good=ONE)
    result = run("validate", cwd=root)
    assert result.exit_code == 1
    assert f"account name {names[1]!r}" in result.output


def test_the_cron_line_quotes_its_paths(tmp_path: Path, run) -> None:
    odd = tmp_path / "a 100% odd $project"
    odd.mkdir()
    (odd / "megaphone.yaml").write_text(CONFIG)
    line = run("cron", cwd=odd).output.strip()
    assert "'" in line and "\\%" in line and "100%" not in line.replace("\\%", "")
    if "\n" not in str(tmp_path):
        broken = tmp_path / "line\nbreak"
        broken.mkdir()
        (broken / "megaphone.yaml").write_text(CONFIG)
        result = run("cron", cwd=broken)
        assert result.exit_code == 2 and "line break" in result.output


# --------------------------------------------------------- the ledger


def test_a_ledger_folder_that_is_a_file_is_one_line(project, run, user: User, clock) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    (root / ".megaphone").write_text("not a folder")
    for command in (("publish", "--due"), ("status",), ("history",), ("list",)):
        result = run(*command, cwd=root)
        no_traceback(result.output)
        if command[0] == "publish":
            assert result.exit_code == 1
            assert result.output.startswith("megaphone: error: ") and "folder" in result.output


def test_an_in_memory_ledger_is_refused(
    project, run, user: User, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    for url in ("sqlite://", "sqlite:///:memory:"):
        monkeypatch.setenv("MEGAPHONE_LEDGER_URL", url)
        result = run("publish", "--due", cwd=root)
        assert result.exit_code == 1 and "in-memory" in result.output, result.output


def test_a_ledger_of_a_newer_megaphone_is_refused_and_left_alone(
    fakex: FakeX, project, run, user: User, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    Ledger(default_url(root)).close()
    db = root / ".megaphone" / "ledger.db"
    with sqlite3.connect(db) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 1 and "newer megaphone" in result.output
    with sqlite3.connect(db) as con:
        [(version,)] = con.execute("SELECT value FROM meta WHERE key = 'schema_version'")
    assert version == "99" and fakex.posted() == []


def test_a_ledger_of_schema_1_is_carried_over(
    fakex: FakeX, project, run, user: User, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    (root / ".megaphone").mkdir()
    with sqlite3.connect(root / ".megaphone" / "ledger.db") as con:
        con.executescript(
            """
            CREATE TABLE deliveries (post_id VARCHAR(200), account VARCHAR(100),
              network VARCHAR(20), state VARCHAR(20), queue VARCHAR(500), scheduled_at DATETIME,
              digest VARCHAR(64), attempts INTEGER, error TEXT, claimed_by VARCHAR(200),
              claimed_at DATETIME, next_attempt_at DATETIME, late_ok BOOLEAN, in_flight INTEGER,
              remote_id VARCHAR(64), url VARCHAR(500), published_at DATETIME,
              created_at DATETIME, updated_at DATETIME, PRIMARY KEY (post_id, account));
            CREATE INDEX deliveries_state ON deliveries (state);
            CREATE TABLE parts (post_id VARCHAR(200), account VARCHAR(100), idx INTEGER,
              remote_id VARCHAR(64), url VARCHAR(500), published_at DATETIME,
              PRIMARY KEY (post_id, account, idx));
            CREATE TABLE events (id INTEGER PRIMARY KEY, post_id VARCHAR(200),
              account VARCHAR(100), at DATETIME, state VARCHAR(20), detail TEXT);
            CREATE TABLE meta (key VARCHAR(100) PRIMARY KEY, value TEXT);
            INSERT INTO meta VALUES ('schema_version', '1');
            INSERT INTO deliveries VALUES ('one', 'utla', 'x', 'published', 'posts/one.yaml',
              '2026-11-29 11:59:00', 'd', 1, NULL, NULL, NULL, NULL, 0, NULL, '5',
              'https://x.com/utlanow/status/5', '2026-11-29 11:59:30', '2026-11-29 11:59:00',
              '2026-11-29 11:59:30');
            INSERT INTO parts VALUES ('one', 'utla', 0, '5', 'https://x.com/utlanow/status/5',
              '2026-11-29 11:59:30');
            INSERT INTO events (post_id, account, at, state, detail)
              VALUES ('one', 'utla', '2026-11-29 11:59:30', 'published', 'by hand');
            """
        )
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert fakex.posted() == []  # published already: never again
    history = run("history", cwd=root).output
    assert "https://x.com/utlanow/status/5" in history


def test_two_projects_on_one_ledger_see_only_their_own(
    fakex: FakeX, user: User, tmp_path: Path, run, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared.db"
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", f"sqlite:///{shared}")
    fakex.reject_duplicates = False
    roots = []
    for name in ("union", "coalition"):
        root = tmp_path / name
        (root / "posts").mkdir(parents=True)
        (root / "megaphone.yaml").write_text(CONFIG)
        (root / "posts" / "q.yaml").write_text(ONE.replace("Hello.", f"Hello from {name}."))
        roots.append(root)
    for root in roots:
        result = publish(run, root, "--due")
        assert result.exit_code == 0 and "1 published" in result.output, result.output
    assert sorted(t.sent_text for t in fakex.posted()) == [
        "Hello from coalition.",
        "Hello from union.",
    ]
    for root in roots:
        import json

        assert len(json.loads(run("status", "--json", cwd=root).output)) == 1
    # A shared database server needs the project named.
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", "postgresql://db.invalid/megaphone")
    result = run("publish", "--due", cwd=roots[0])
    assert result.exit_code == 1 and "project:" in result.output


# ------------------------------------------------------------ editing


def test_an_edit_never_overwrites_a_concurrent_save(
    project, run, monkeypatch: pytest.MonkeyPatch, frozen_now
) -> None:
    root = project(
        campaign="account: utla\nposts:\n  - {id: one, at: 2026-12-01 09:00, text: A.}\n"
    )
    path = root / "posts" / "campaign.yaml"
    from megaphone.queue import changes as queueing

    real = queueing.check_change
    saved = "account: utla\nposts:\n  - {id: one, at: 2026-12-01 09:00, text: Saved by a person.}\n"

    def meanwhile(*args: object, **kwargs: object) -> object:
        path.write_text(saved)  # an editor saves while megaphone works
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(queueing, "check_change", meanwhile)
    result = run("add", "campaign", "Town hall tonight.", "--at", "2026-12-02 09:00", cwd=root)
    assert result.exit_code == 1 and "changed while" in result.output
    assert path.read_text() == saved


def test_a_linked_queue_file_is_edited_through_its_link(project, run, frozen_now) -> None:
    real = "account: utla\nposts:\n  - {id: one, at: 2026-12-01 09:00, text: A.}\n"
    root = project({"queues/real.yaml": real})
    link = root / "posts" / "campaign.yaml"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to("../queues/real.yaml")
    result = run("add", "campaign", "Town hall tonight.", "--at", "2026-12-02 09:00", cwd=root)
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert "Town hall tonight." in (root / "queues" / "real.yaml").read_text()
