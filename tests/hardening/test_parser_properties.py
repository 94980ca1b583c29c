"""Issue 10, "what must be shown": property-based tests (Hypothesis) for every parser of untrusted
text Breaker has — command-line arguments, the config file, pasted keys and base URLs. Whatever
they are given: a one-line message and exit 0/1/2, never "unexpected error" or a traceback, and the
key (a canary) never in any output. (Providers' JSON: test_provider_properties.py.)"""

from __future__ import annotations

import os
import string

import pytest
import tomlkit
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.services import binding
from app.services.inventory import key_problem
from connectors.base import Secret
from tests.hardening.test_key_leaks import KEY, assert_clean

FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
SOME = settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)


def assert_handled(r, label: str) -> None:
    assert r.code in (0, 1, 2), f"{label}: exit {r.code}\n{r.err}"
    assert "unexpected error" not in r.err, f"{label}: {r.err}"
    assert "Traceback" not in r.out + r.err, f"{label}: {r.err}"
    assert_clean(label, r.out + r.err)


@pytest.fixture
def home_with_one(breaker, add_github, cli_home, tmp_path, monkeypatch):
    """A home holding one connector (its base URL refuses at once), and a scratch working directory:
    relative paths an example names (--db x, --output y) land there."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    assert add_github("gh", KEY, "--base-url", "http://127.0.0.1:9").code == 0
    return cli_home


# -- command-line arguments -----------------------------------------------------------------------

COMMANDS = {
    "list": ["--json"],
    "add": ["--name", "--provider", "--owner", "--access", "--task", "--forbidden", "--env", "--base-url",
            "--allow-private-url", "--env-var", "--client", "--tags", "--scope"],
    "edit": ["--name", "--provider", "--owner", "--env", "--base-url", "--allow-private-url", "--env-var", "--tags",
             "--scope", "--clear-scopes", "--confirm-destination", "--replace-key"],
    "remove": ["--delete-key", "--keep-key"],
    "probe": ["--all", "--deep", "--json"],
    "disable": ["--yes", "--json", "--force"],
    "enable": ["--yes", "--json", "--force"],
    "read-only": ["--yes", "--json", "--force", "--revoke-full"],
    "confirm": ["--json"],
    "verify": ["--json"],
    "audit": ["--verify", "--json", "--limit", "--connector"],
    "export": ["--format", "--output"],
    "doctor": ["--json"],
    "review": ["--findings", "--json", "--fail-on", "--format"],
    "token": ["--client", "--list", "--revoke"],
    "route": ["--above", "--off", "--json", "--upstream"],
}  # fmt: skip
PATHLIKE = {"--db", "--home", "--output"}
# Text an owner (or a script) might pass: printable, control characters, bidi overrides, the key.
WORDS = (
    st.text(max_size=20)
    | st.sampled_from(["gh", "github", "", "-", "--", "-1", "0", "1e9", "nan", "all", "csv", "json", "md",
                       "repo:write", "http://127.0.0.1:9", "https://[::1", "PATH", "LD_PRELOAD", "\x1b[2J",
                       "\u202eevil", "x" * 300, KEY, KEY.upper()])
)  # fmt: skip
NO_SLASH = st.text(alphabet=string.ascii_letters + string.digits + "._-:", max_size=20)


@st.composite
def argv(draw):
    command = draw(st.sampled_from(sorted(COMMANDS)))
    args = [command]
    for _ in range(draw(st.integers(0, 6))):
        option = draw(st.sampled_from([*COMMANDS[command], "--db", "--read-only", None]))
        if option is None:
            args.append(draw(WORDS))
        elif option in PATHLIKE:
            args += [option, draw(NO_SLASH | st.sampled_from(["sqlite:///x.db", "postgresql://h/db", "x.db"]))]
        else:
            args.append(option)
            if draw(st.booleans()):
                args.append(draw(WORDS))
    return args


@SOME
@given(args=argv(), key=st.sampled_from(["", KEY, KEY + " x", "\x00" + KEY, KEY[:6]]))
def test_any_command_line_gets_a_one_line_answer(home_with_one, breaker, args, key):
    assume(not any(a in ("-h", "--help") for a in args))
    r = breaker(*args, stdin=key + "\n")
    assert_handled(r, " ".join(map(repr, args)))


# -- the config file ---------------------------------------------------------------------------------

EDGES = st.sampled_from(
    [float("inf"), float("-inf"), float("nan"), 1e300, 2**63, 2**64 + 1, 0, -1, 0.5, "", "abc", "\x00", True]
)
VALUES = st.recursive(
    EDGES | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
SECTIONS = {
    "probe": ["timeout_s", "concurrency", "per_host", "max_retry_wait_s"],
    "review": ["key_age_warn_days", "key_age_days", "expiry_warn_days", "stale_probe_days", "snooze_max_days"],
    "database": ["url"],
    "ui": ["read_only"],
    "demo": ["enabled"],
    "keymap": ["add", "panic", "help"],
}


@st.composite
def config_text(draw):
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=80))  # mostly not TOML at all
    doc: dict = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "other"]), max_size=3, unique=True)):
        if draw(st.integers(0, 5)) == 0:
            doc[section] = draw(VALUES)  # a section that is not a table
            continue
        names = SECTIONS.get(section, ["x"])
        doc[section] = {n: draw(VALUES) for n in draw(st.lists(st.sampled_from(names), max_size=3, unique=True))}
    try:
        return tomlkit.dumps(doc)
    except Exception:
        assume(False)


@SOME
@given(text=config_text(), command=st.sampled_from([["list"], ["list", "--json"], ["doctor"], ["probe", "gh"]]))
def test_any_config_file_gets_a_one_line_answer(home_with_one, breaker, text, command):
    path = home_with_one / "config.toml"
    path.write_text(text, encoding="utf-8")
    try:
        r = breaker(*command)
    finally:
        path.unlink()
    assert_handled(r, f"config {text!r}")
    if r.code != 0 and "config.toml" in r.err:
        assert len(r.err.strip().splitlines()) == 1, r.err  # one line, naming the file


# -- pasted keys -----------------------------------------------------------------------------------------

PASTED = st.text(max_size=60) | st.builds(lambda a, b: a + KEY + b, st.text(max_size=8), st.text(max_size=8))


@settings(max_examples=200, deadline=None)
@given(PASTED)
def test_any_pasted_key_is_judged_without_an_exception(text):
    problem = key_problem(Secret(text))
    assert isinstance(problem, str)
    assert KEY not in problem


@SOME
@given(pasted=PASTED, provider=st.sampled_from(["", "github", "generic", "openai", "slack"]))
def test_any_pasted_key_through_add_gets_a_one_line_answer(home_with_one, breaker, pasted, provider):
    args = ["add", "--name", "pasted"] + (["--provider", provider] if provider else [])
    r = breaker(*args, stdin=pasted + "\n")
    assert_handled(r, f"add {pasted!r}")
    if r.code == 0:
        assert breaker("remove", "pasted", "--delete-key").code == 0


# -- base URLs ----------------------------------------------------------------------------------------------

URLS = st.text(max_size=60) | st.builds(
    lambda scheme, host, rest: f"{scheme}://{host}{rest}",
    st.sampled_from(["http", "https", "HTTPS", "ftp", "", "javascript"]),
    st.text(max_size=20)
    | st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip))
    | st.sampled_from(["localhost", "metadata.google.internal", "127.0.0.1:0", "[::ffff:169.254.169.254]",
                       "user:" + KEY + "@h", "h:99999", "h:-1", "xn--", "例え.jp"]),
    st.text(max_size=20),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(URLS)
def test_any_base_url_is_judged_and_what_passes_is_safe(url):
    problem = binding.url_problem(url, private_confirmed=False)
    assert isinstance(problem, str)
    assert KEY not in problem
    if url and not problem:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.hostname
        assert not binding.has_control(url) and not parts.username and not parts.password
        assert parts.scheme == "https" or binding.is_loopback(parts.hostname)
        assert not binding.is_private(parts.hostname)


@settings(max_examples=200, deadline=None)
@given(url=URLS, answers=st.lists(st.ip_addresses().map(str) | st.text(max_size=10), max_size=3))
def test_any_base_url_and_dns_answer_is_judged(url, answers):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(binding, "resolve", lambda host: answers)
        problem = binding.resolved_problem(url, set())
    assert isinstance(problem, str) and KEY not in problem


@SOME
@given(url=URLS)
def test_any_base_url_through_add_gets_a_one_line_answer(home_with_one, breaker, url):
    r = breaker("add", "--name", "url", "--provider", "github", "--base-url", url, stdin=KEY[:-4] + "Url1\n")
    assert_handled(r, f"add --base-url {url!r}")
    if r.code == 0:
        assert breaker("remove", "url", "--delete-key").code == 0


def test_the_scratch_directory_is_used(home_with_one):
    assert os.getcwd().endswith("cwd")


@pytest.mark.parametrize(
    "line",
    [
        "probe = {concurrency = inf}",  # int(inf): "unexpected error (OverflowError)" before
        "probe = {timeout_s = nan}",  # accepted before: a probe timeout of nan
        "probe = {per_host = 0.5}",  # int(0.5) == 0 accepted before
        "review = {stale_probe_days = 9223372036854775807}",
    ],
)
def test_config_values_found_by_the_properties(home_with_one, breaker, line):
    (home_with_one / "config.toml").write_text(line + "\n", encoding="utf-8")
    for command in (("list",), ("probe", "gh"), ("review", "--findings", "--json")):
        r = breaker(*command)
        assert r.code == 1 and "config.toml" in r.err and len(r.err.strip().splitlines()) == 1, (command, r)
        assert_handled(r, line)
