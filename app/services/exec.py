"""``breaker exec NAME -- COMMAND``: hand a connector's active credential to one child process.

The key goes into the child's environment only (the variable named on the connector, else the
provider's usual one), never into Breaker's own environment, a file, an argument or the audit
log. While the connector is disabled, Breaker refuses. Every use — and every refusal — is an
audit event naming the command, the variable and the key's fingerprint. The use is recorded once
the operating system has answered the start of the child: outcome ``ok`` (the child has the key),
``not-found`` or ``not-executable`` (nothing was handed out). If that record cannot be written,
the child is stopped: a key handed out unaudited is not an option.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from app.services import binding
from app.services import gateway as gateway_service
from app.services.inventory import env_var_problem
from app.services.switches.states import label
from app.services.views import ConnectorView
from app.services.vocabulary import JobState
from app.store.db import session_scope
from connectors import registry
from connectors.base import Mode, Secret


class ExecRefused(Exception):
    """Breaker will not hand out this connector's key. The message says why, on one line."""


@dataclass(frozen=True)
class ExecGrant:
    connector: str
    env_var: str
    secret: Secret
    fingerprint: str
    mode: Mode
    warning: str = ""  # e.g. a reduced mode that the provider does not enforce yet
    last4: str = ""
    tier: str = ""
    # Routed through the gateway (issue 13): ``secret`` is a Breaker token issued for this one run,
    # ``extra_env`` the gateway's base URL in the variables the provider's SDKs read.
    extra_env: dict[str, str] = field(default_factory=dict)
    token_id: int | None = None

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of ``base`` (default: this process's environment) plus the key. ``base`` is not changed."""
        env = dict(os.environ if base is None else base)
        env[self.env_var] = self.secret.reveal()
        env.update(self.extra_env)
        return env


def env_var_for(view: ConnectorView) -> str:
    if view.env_var:
        return view.env_var
    try:
        return registry.get(view.provider).env_var or "API_KEY"
    except KeyError:
        return "API_KEY"


def _command_name(command: Sequence[str]) -> str:
    # Only the program's name: arguments may hold anything (tokens included) and stay out of the log.
    return os.path.basename(command[0]) if command else ""


def grant(services, name: str, command: Sequence[str], env_var: str = "") -> ExecGrant:
    """Check the mode and read the key; a refusal is audited and raises :class:`ExecRefused`.

    The hand-out itself is audited by :func:`record_use` once the child was (or could not be)
    started — :func:`run` does both.
    """
    view = services.inventory.get(name)
    var = env_var or env_var_for(view)  # a found config may name the key's variable differently
    cred = view.credential
    base = _base(command, var, view.mode)
    refusal = ""
    if view.mode is Mode.DISABLED:
        refusal = f"{name} is disabled; Breaker does not hand out its key (re-enable it with `breaker enable {name}`)"
    elif cred is None:
        refusal = f"{name} has no key stored"
    elif env_var_problem(var):
        refusal = f"{name}: {env_var_problem(var)}"
    if cred is not None and not refusal:
        try:
            binding.check(services, view, cred)
        except binding.DestinationChanged as exc:
            refusal = str(exc)
    if not refusal and name in gateway_service.Gateway(services).routed_names():
        return _gateway_grant(services, view, var, cred.fingerprint, command)  # type: ignore[union-attr]
    secret = services.secrets.get(cred.keyring_ref) if cred is not None and not refusal else None
    if not refusal and secret is None:
        refusal = f"the keyring holds no key for {name}"
    if refusal:
        _audit(services, "exec.refused", name, {**base, "reason": refusal}, outcome="refused")
        raise ExecRefused(refusal)
    warning = ""
    if view.mode is not Mode.FULL and view.switch_state != JobState.VERIFIED:
        warning = (
            f"{name} is {view.mode.value}, but that is not verified at the provider yet "
            f"({label(view.switch_state)}): the key may still hold more power"
        )
    return ExecGrant(
        connector=name,
        env_var=var,
        secret=secret,
        fingerprint=cred.fingerprint,  # type: ignore[arg-type]
        mode=view.mode,
        warning=warning,
        last4=cred.last4,
        tier=cred.tier,
    )  # type: ignore[union-attr]


def _gateway_grant(services, view: ConnectorView, var: str, fingerprint: str, command: Sequence[str]) -> ExecGrant:
    """A routed connector: the child gets a token issued for this run and the gateway's URL, never the key."""
    provider = registry.get(view.provider)
    issued = gateway_service.Gateway(services).issue(view.name, f"exec: {_command_name(command)}")
    base = gateway_service.base_url()
    root = f"{base}/{quote(view.name, safe='')}"
    extra = {variable: root + suffix for variable, suffix in provider.gateway_env.items()}
    extra["BREAKER_GATEWAY_URL"] = root
    return ExecGrant(
        connector=view.name,
        env_var=var,
        secret=Secret(issued.token),
        fingerprint=fingerprint,
        mode=view.mode,
        # Warned, not refused: the owner may start the gateway after the agent (it is asked again on each request).
        warning=gateway_service.not_running_warning(base),
        tier="gateway",
        extra_env=extra,
        token_id=issued.id,
    )


def record_use(services, handed: ExecGrant, command: Sequence[str], outcome: str) -> None:
    """Audit one use: ``ok`` (the child started with the key), ``not-found`` or ``not-executable``."""
    new = {
        **_base(command, handed.env_var, handed.mode),
        "started": outcome == "ok",
        "via": "gateway" if handed.token_id is not None else "key",
        "credential": {"fingerprint": handed.fingerprint, "last4": handed.last4, "tier": handed.tier},
    }
    _audit(services, "exec", handed.connector, new, outcome=outcome)


def _base(command: Sequence[str], var: str, mode: Mode) -> dict:
    return {"command": _command_name(command), "args": max(0, len(command) - 1), "env_var": var, "mode": mode.value}


def _audit(services, action: str, name: str, new: dict, outcome: str = "ok") -> None:
    with session_scope(services.engine) as s:
        services.audit.record(s, action, name, new=new, outcome=outcome)


def run(
    services,
    name: str,
    command: Sequence[str],
    *,
    stdin=None,
    stdout=None,
    stderr=None,
    warn: Callable[[str], None] | None = None,
    env_var: str = "",
) -> int:
    """Run ``command`` with the key in its environment; returns the child's exit code.

    Raises :class:`ExecRefused` before anything runs when the key may not be handed out, and
    ``FileNotFoundError``/``PermissionError`` when the command cannot be started (audited as such,
    not as a key handed out). A child killed by a signal gives 128 + the signal number, as a shell
    would.
    """
    if not command:
        raise ValueError("no command given")
    handed = grant(services, name, command, env_var)
    if handed.warning and warn is not None:
        warn(handed.warning)
    previous = signal.getsignal(signal.SIGINT)
    try:
        # Ctrl-C reaches the child (same process group); Breaker waits for it instead of dying first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread (tests, embedding)
        previous = None
    try:
        try:
            proc = subprocess.Popen(list(command), env=handed.environment(), stdin=stdin, stdout=stdout, stderr=stderr)
        except FileNotFoundError:
            record_use(services, handed, command, "not-found")
            raise
        except PermissionError:
            record_use(services, handed, command, "not-executable")
            raise
        try:
            record_use(services, handed, command, "ok")
        except BaseException:
            _stop(proc)  # no audit record, no key: the child does not run on
            raise
        code = proc.wait()
    finally:
        if handed.token_id is not None:  # the run's token dies with the run
            gateway_service.Gateway(services).revoke(name, handed.token_id)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
