"""The sandbox's prefixes stand for the providers' hosts (issue 15): a client given the provider's
documented base URL with only the host swapped works unchanged, and links in answers lead back to
the sandbox, not to the real provider."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from connectors import registry
from connectors.sandbox.dispatch import route_modules


@pytest.mark.parametrize("prefix", sorted(route_modules()))
def test_the_sandbox_base_url_is_the_documented_one_with_the_host_swapped(sandbox, prefix):
    if prefix not in registry.names():
        pytest.skip(f"{prefix} is a sandbox-only prefix")
    documented = urlsplit(registry.get(prefix).base_url).path.rstrip("/")
    assert sandbox.base_url(prefix) == f"{sandbox.url}/{prefix}{documented}"
    assert sandbox.host_url(prefix) == f"{sandbox.url}/{prefix}"


def test_gitlab_is_served_below_the_instance_root_at_api_v4(sandbox):
    # https://docs.gitlab.com/api/rest/#how-to-use-the-api: REST paths are below /api/v4.
    record = sandbox.mint("gitlab", "personal", identity="ada")
    user = httpx.get(f"{sandbox.url}/gitlab/api/v4/user", headers={"PRIVATE-TOKEN": record.token})
    assert user.status_code == 200
    # Links lead back to the sandbox's own prefix, not to a made-up or the real host.
    assert user.json()["web_url"] == f"{sandbox.url}/gitlab/ada"
    assert user.json()["avatar_url"].startswith(f"{sandbox.url}/gitlab/")
    assert httpx.get(f"{sandbox.url}/gitlab/user", headers={"PRIVATE-TOKEN": record.token}).status_code == 404


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_graph_serves_both_versions_with_contexts_on_the_sandbox(sandbox, version):
    # https://learn.microsoft.com/en-us/graph/use-the-api#version: /v1.0 and /beta.
    record = sandbox.mint("microsoft", "delegated")
    me = httpx.get(f"{sandbox.url}/microsoft/{version}/me", headers={"Authorization": f"Bearer {record.token}"})
    assert me.status_code == 200
    assert me.json()["@odata.context"] == f"{sandbox.url}/microsoft/{version}/$metadata#users/$entity"


def test_slack_web_api_methods_are_below_api(sandbox):
    # https://api.slack.com/web#basics: https://slack.com/api/METHOD
    record = sandbox.mint("slack", "bot")
    answer = httpx.post(f"{sandbox.url}/slack/api/auth.test", headers={"Authorization": f"Bearer {record.token}"})
    assert answer.status_code == 200 and answer.json()["ok"] is True
