"""The console refuses what it must: no session, a forged session, a missing CSRF token, an
agent on a supervisor's page or assigning someone else; and customer text never runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from console import session as sessions
from console.passwords import PasswordFile, hash_password, verify
from tests.support.console_builders import (
    KEY,
    Console,
    client,
    console_store,
    csrf_of,
    sign_in,
)
from tests.support.tickets_builders import T0, email

XSS_SUBJECT = '<script>alert("subject")</script>'
XSS_BODY = '<img src=x onerror=alert("body")>\n"><svg onload=alert(1)>'


def _console() -> Console:
    mails = [email("a1", "carol@example.com", subject="Invoice twice", text="Charged twice"),
             email("x1", "eve@example.com", subject=XSS_SUBJECT, text=XSS_BODY)]
    return Console(console_store(mails, **{"Invoice twice": {"team": "billing"},
                                           XSS_SUBJECT: {"team": "billing"}}))


def test_unauthenticated_requests_are_refused(tmp_path: Path) -> None:
    c = client(tmp_path, _console())
    r = c.get("/queue?status=open")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/queue%3Fstatus%3Dopen"
    assert c.get("/tickets/whatever").status_code == 303
    assert c.get("/live").status_code == 401
    assert c.get("/reports.json").status_code == 401
    assert c.post("/tickets/x/reply", data={"text": "hi"}).status_code == 401


def test_sign_in_sets_a_strict_httponly_cookie_and_wrong_passwords_fail(tmp_path: Path) -> None:
    c = client(tmp_path, _console())
    bad = sign_in(c, "agent-1", "wrong password!")
    assert bad.status_code == 401 and "wrong password" in bad.text.lower()
    assert sign_in(c, "nobody", "correct horse battery").status_code == 401
    ok = sign_in(c, "agent-1")
    assert ok.status_code == 303 and ok.headers["location"] == "/queue"
    cookie = next(v for k, v in ok.headers.multi_items()
                  if k == "set-cookie" and v.startswith(sessions.COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert c.get("/queue").status_code == 200


def test_cookies_are_secure_over_tls(tmp_path: Path) -> None:
    c = client(tmp_path, _console(), base_url="https://testserver")
    ok = sign_in(c, "agent-1")
    cookie = next(v for k, v in ok.headers.multi_items()
                  if k == "set-cookie" and v.startswith(sessions.COOKIE))
    assert "Secure" in cookie


def test_sign_in_needs_the_form_token(tmp_path: Path) -> None:
    c = client(tmp_path, _console())
    c.get("/login")
    r = c.post("/login", data={"agent": "agent-1", "password": "correct horse battery"})
    assert r.status_code == 403


def test_actions_without_the_csrf_token_are_refused(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    t = next(iter(console.store.view.tickets()))
    assert c.post(f"/tickets/{t.number}/reply", data={"text": "hi"}).status_code == 403
    assert c.post(f"/tickets/{t.number}/reply",
                  data={"text": "hi", "csrf": "forged"}).status_code == 403
    assert c.post("/logout").status_code == 403
    assert console.submitted == []
    page = c.get(f"/tickets/{t.number}")
    r = c.post(f"/tickets/{t.number}/reply", data={"text": "On it", "csrf": csrf_of(page.text)})
    assert r.status_code == 303
    [cmd] = console.submitted
    assert (cmd.action, cmd.agent_id, cmd.text, cmd.ticket_id) == (
        "reply", "agent-1", "On it", t.ticket_id)


def test_a_forged_or_expired_session_is_no_session(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    real = c.cookies[sessions.COOKIE]
    body, mac = real.split(".")
    # another agent's id under agent-1's signature
    _, other = sessions.issue(b"not the key" * 3, "sup-1", console.now, 3600)
    for forged in (f"{other.split('.')[0]}.{mac}", other, body + ".x", "garbage"):
        c.cookies.set(sessions.COOKIE, forged)
        assert c.get("/queue").status_code == 303, forged
    c.cookies.set(sessions.COOKIE, real)
    assert c.get("/queue").status_code == 200
    console.now += timedelta(hours=13)  # past the session's 12 hours
    assert c.get("/queue").status_code == 303


def test_sign_out_ends_the_session(tmp_path: Path) -> None:
    c = client(tmp_path, _console())
    sign_in(c, "agent-1")
    cookie = c.cookies[sessions.COOKIE]
    page = c.get("/queue")
    assert c.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    c.cookies.set(sessions.COOKIE, cookie)  # a copy kept by an attacker
    assert c.get("/queue").status_code == 303


def test_an_agent_on_a_supervisor_page_is_refused(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    assert c.get("/reports").status_code == 403
    assert c.get("/reports.csv").status_code == 403
    t = next(iter(console.store.view.tickets()))
    page = c.get(f"/tickets/{t.number}")
    r = c.post(f"/tickets/{t.number}/assign",
               data={"assignee": "agent-2", "csrf": csrf_of(page.text)})
    assert r.status_code == 403 and console.submitted == []
    sup = client(tmp_path, console)
    sign_in(sup, "sup-1")
    assert sup.get("/reports").status_code == 200


def test_customer_text_renders_inert(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    queue = c.get("/queue")
    t = next(t for t in console.store.view.tickets() if t.subject == XSS_SUBJECT)
    page = c.get(f"/tickets/{t.number}")
    for r in (queue, page):
        assert "<script>alert" not in r.text and "<img src=x" not in r.text
        assert "<svg" not in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;" in queue.text
    assert "&lt;img src=x onerror=alert(&#34;body&#34;)&gt;" in page.text


def test_the_sign_in_redirect_stays_on_this_site(tmp_path: Path) -> None:
    c = client(tmp_path, _console())
    form = c.get("/login?next=//evil.example/x")
    assert "evil" not in form.text
    r = c.post("/login", data={"csrf": csrf_of(form.text), "agent": "agent-1",
                               "password": "correct horse battery",
                               "next": "https://evil.example/"})
    assert r.headers["location"] == "/queue"


def test_passwords_are_argon2_hashes(tmp_path: Path) -> None:
    stored = hash_password("s3cret-enough")
    assert stored.startswith("$argon2id$") and verify(stored, "s3cret-enough")
    assert not verify(stored, "s3cret-enougH") and not verify(None, "s3cret-enough")
    f = PasswordFile(tmp_path / "p.json")
    f.set("a", "s3cret-enough")
    assert (tmp_path / "p.json").stat().st_mode & 0o777 == 0o600
    assert "s3cret" not in (tmp_path / "p.json").read_text()
    assert f.check("a", "s3cret-enough") and not f.check("b", "s3cret-enough")


def test_session_tokens_need_the_key() -> None:
    s, cookie = sessions.issue(KEY, "agent-1", T0, 60)
    assert sessions.read(KEY, cookie, T0) == s
    assert sessions.read(b"other" * 8, cookie, T0) is None
    assert sessions.read(KEY, cookie, T0 + timedelta(seconds=61)) is None
    assert sessions.csrf_ok(KEY, s, sessions.csrf_token(KEY, s))
    assert not sessions.csrf_ok(KEY, s, "") and not sessions.csrf_ok(KEY, s, None)


def test_guessing_passwords_is_throttled(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console, sign_in_max_failures=3, sign_in_window_s=60)
    for _ in range(3):
        assert sign_in(c, "agent-1", "guess guess guess").status_code == 401
    blocked = sign_in(c, "agent-1")  # even the right password, until the window passes
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    console.now += timedelta(seconds=61)
    assert sign_in(c, "agent-1").status_code == 303


def test_a_cross_site_post_is_refused_even_with_a_token(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    t = next(iter(console.store.view.tickets()))
    csrf = csrf_of(c.get(f"/tickets/{t.number}").text)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = c.post(f"/tickets/{t.number}/note", data={"text": "x", "csrf": csrf},
                   headers=headers)
        assert r.status_code == 403, headers
    ok = c.post(f"/tickets/{t.number}/note", data={"text": "x", "csrf": csrf},
                headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 303 and len(console.submitted) == 1


def test_an_agent_cannot_act_as_another(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    t = next(iter(console.store.view.tickets()))
    csrf = csrf_of(c.get(f"/tickets/{t.number}").text)
    c.post(f"/tickets/{t.number}/reply", data={"text": "hi", "agent": "sup-1", "csrf": csrf})
    assert [a.agent_id for a in console.submitted] == ["agent-1"]  # the session says who


def test_passwd_sets_an_argon2_hash_from_the_command_line(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.support.console_process import REPO

    target = tmp_path / "pw.json"
    env = {**os.environ, "HELPLINE_CONSOLE__PASSWORD_FILE": str(target)}
    env.pop("HELPLINE_CONFIG", None)

    def passwd(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "runtime.cli", "console", "passwd",
                               "agent-5", "--password-stdin", "--no-check-directory"],
                              cwd=REPO, env=env, input=password + "\n", capture_output=True,
                              text=True, timeout=60)

    short = passwd("short")
    assert short.returncode == 2 and "at least 8" in short.stderr and not target.exists()
    done = passwd("long enough pass")
    assert done.returncode == 0, done.stderr
    assert PasswordFile(target).check("agent-5", "long enough pass")
    assert "long enough" not in target.read_text()
    assert json.loads(target.read_text())["agent-5"].startswith("$argon2id$")


def test_the_agents_page_is_for_admins(tmp_path: Path) -> None:
    console = _console()
    for agent_id, status in (("agent-1", 403), ("sup-1", 403), ("adm-1", 200)):
        c = client(tmp_path, console)
        sign_in(c, agent_id)
        r = c.get("/admin/agents")
        assert r.status_code == status, agent_id
    assert 'data-agent="sup-1"' in r.text and "$argon2" not in r.text
    assert r.text.count(">set<") == 4  # every directory agent has a password here


def test_a_new_password_ends_the_old_sessions(tmp_path: Path) -> None:
    console = _console()
    c = client(tmp_path, console)
    sign_in(c, "agent-1")
    assert c.get("/queue").status_code == 200
    PasswordFile(tmp_path / "passwords.json").set("agent-1", "a brand new password")
    assert c.get("/queue").status_code == 303
    assert sign_in(c, "agent-1", "a brand new password").status_code == 303
    assert c.get("/queue").status_code == 200
    PasswordFile(tmp_path / "passwords.json").remove("agent-1")
    assert c.get("/queue").status_code == 303
