from tests.cli.conftest import GITHUB_KEY, add_github, breaker, cli_home  # noqa: F401  (fixtures shared with the CLI tests)
