"""A mistyped command, connector name or --home is told apart from an empty inventory."""

from __future__ import annotations


def test_a_mistyped_command_gets_a_did_you_mean(breaker):
    result = breaker("lst")
    assert result.code == 2
    assert "unknown command 'lst'" in result.err and "did you mean `list`?" in result.err


def test_a_command_nothing_like_any_other_gets_the_plain_error(breaker):
    result = breaker("zzzzqqq")
    assert result.code == 2 and "did you mean" not in result.err and "invalid choice" in result.err


def test_a_mistyped_connector_name_gets_a_did_you_mean(breaker):
    assert (
        breaker(
            "add", "--name", "github-issues", "--provider", "generic", stdin="sk-abcdefghijklmnopqrstuvwxyz012345\n"
        ).code
        == 0
    )
    result = breaker("probe", "github-isues")
    assert result.code == 2
    assert "no connector named 'github-isues' — did you mean 'github-issues'?" in result.err


def test_a_home_that_does_not_exist_says_so_and_creates_nothing(breaker, cli_home, tmp_path):
    missing = tmp_path / "no-such-home"
    for argv in (["list"], []):  # a command, and the panel
        result = breaker("--home", str(missing), *argv, home=False, tty=True)
        assert result.code == 2
        assert f"--home {missing} does not exist" in result.err
    assert not missing.exists()


def test_add_may_start_a_new_home(breaker, tmp_path):
    new = tmp_path / "new-home"
    result = breaker(
        "--home",
        str(new),
        "add",
        "--name",
        "x",
        "--provider",
        "generic",
        home=False,
        stdin="sk-abcdefghijklmnopqrstuvwxyz012345\n",
    )
    assert result.code == 0, result.err
    assert new.is_dir()
