"""Where Breaker keeps its files, and the knobs a config file may turn.

Nothing is created at import time. ``--home DIR`` / ``BREAKER_HOME`` puts the database, the
config file (and, for a demo home, the demo keyring) in one folder so that a demo or a test
never touches the owner's real inventory; ``--db URL`` / ``BREAKER_DB`` overrides the database alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

APP_NAME = "breaker"
CONFIG_FILE = "config.toml"
DB_FILE = "breaker.db"


class ConfigError(Exception):
    """The config file cannot be used. The message says which file and what is wrong."""


@dataclass(frozen=True)
class ProbeSettings:
    timeout_s: float = 10.0  # per request
    concurrency: int = 32  # probes in flight at once
    per_host: int = 8  # requests in flight per provider host
    max_retry_wait_s: float = 30.0  # a Retry-After longer than this is reported as rate_limited


@dataclass(frozen=True)
class ReviewSettings:
    """The weekly review's thresholds ([review] in config.toml). Defaults from issue 11."""

    queue_cap: int = 10  # items per review; the rest is carried to next week
    unused_days: int = 30  # a connector unused this long is a finding …
    unused_high_days: int = 90  # … a high one from here
    young_days: int = 14  # connectors younger than this are left out of the "unused" rule
    key_age_days: int = 90  # a key older than this should be rotated
    expiry_warn_days: tuple[int, ...] = (30, 7, 1)  # reminders before a key expires
    stale_probe_days: int = 7  # a last probe older than this is stale data
    keep_lapse_high_weeks: int = 4  # a "keep" of a high-risk connector holds this long …
    keep_lapse_weeks: int = 12  # … of any other connector this long
    snooze_max_days: int = 90
    dont_know_reviews: int = 2  # a checklist answer "don't know" this many reviews in a row is a finding


_REVIEW_INTS = (
    "queue_cap",
    "unused_days",
    "unused_high_days",
    "young_days",
    "key_age_days",
    "stale_probe_days",
    "keep_lapse_high_weeks",
    "keep_lapse_weeks",
    "snooze_max_days",
    "dont_know_reviews",
)


_MOST = 36500  # days, weeks or counts in [review]: a hundred years is plenty (and no date overflows)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _review_settings(raw: Mapping, path: Path) -> ReviewSettings:
    section = raw.get("review", {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{path}: [review] must be a table")
    values: dict = {}
    for name in _REVIEW_INTS:
        if name in section:
            value = section[name]
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MOST:
                raise ConfigError(f"{path}: review.{name} must be a whole number from 1 to {_MOST}, not {value!r}")
            values[name] = value
    if "key_age_warn_days" in section and "key_age_days" not in values:
        values["key_age_days"] = section["key_age_warn_days"]
    if "expiry_warn_days" in section:
        days = section["expiry_warn_days"]
        if not isinstance(days, list) or not days or not all(_whole(d) and 0 < d <= _MOST for d in days):
            raise ConfigError(f"{path}: review.expiry_warn_days is a list of positive days, e.g. [30, 7, 1]")
        values["expiry_warn_days"] = tuple(sorted(set(days), reverse=True))
    return ReviewSettings(**values)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_dir: Path
    db_url: str
    home: Path | None = None
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id → keys, fed to App.set_keymap
    read_only: bool = False
    demo: bool = False  # a demo home: SANDBOX keys in a file keyring confined to the home
    key_age_warn_days: int = 90
    review: ReviewSettings = field(default_factory=ReviewSettings)

    @property
    def config_path(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def db_path(self) -> Path | None:
        """The SQLite file, when the database is a local SQLite file."""
        prefix = "sqlite:///"
        if self.db_url.startswith(prefix) and self.db_url != "sqlite:///:memory:":
            return Path(self.db_url[len(prefix) :])
        return None


def _default_dirs() -> tuple[Path, Path]:
    import platformdirs  # imported here: only the real-home path needs it

    return (
        platformdirs.user_data_path(APP_NAME, appauthor=False),
        platformdirs.user_config_path(APP_NAME, appauthor=False),
    )


def read_config(path: Path) -> dict:
    if not path.exists():
        return {}
    import tomllib  # imported here: a home without a config file never needs it

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). Fix or move the file; nothing was changed.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror}).") from None


def _probe_settings(raw: Mapping, path: Path) -> ProbeSettings:
    section = raw.get("probe", {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{path}: [probe] must be a table")
    defaults = ProbeSettings()
    values = {}
    for name, kind, most in (
        ("timeout_s", float, 3600),
        ("concurrency", int, 10000),
        ("per_host", int, 10000),
        ("max_retry_wait_s", float, 86400),
    ):
        if name in section:
            value = section[name]
            # TOML has inf and nan; neither is a timeout or a count (int(inf) used to end in OverflowError)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= most:
                raise ConfigError(f"{path}: probe.{name} must be a positive number up to {most}, not {value!r}")
            if kind is int and kind(value) < 1:
                raise ConfigError(f"{path}: probe.{name} must be a whole number from 1 to {most}, not {value!r}")
            values[name] = kind(value)
    return ProbeSettings(**{**defaults.__dict__, **values})


def load_settings(
    home: str | Path | None = None,
    db: str | None = None,
    *,
    read_only: bool = False,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings from flags, environment and the config file, in that order of precedence."""
    env = os.environ if env is None else env
    home = home or env.get("BREAKER_HOME") or None
    if home:
        home_path = Path(home).expanduser().resolve()
        data_dir = config_dir = home_path
    else:
        home_path = None
        data_dir, config_dir = _default_dirs()
    config_path = config_dir / CONFIG_FILE
    raw = read_config(config_path)
    db_url = _db_url(db, env.get("BREAKER_DB"), raw, config_path) or f"sqlite:///{data_dir / DB_FILE}"
    keymap = raw.get("keymap", {})
    if not isinstance(keymap, Mapping) or not all(isinstance(v, str) for v in keymap.values()):
        raise ConfigError(f'{config_path}: [keymap] maps binding ids to key names, e.g. probe = "ctrl+r"')
    ui = raw.get("ui", {}) if isinstance(raw.get("ui", {}), Mapping) else {}
    return Settings(
        data_dir=data_dir,
        config_dir=config_dir,
        db_url=db_url,
        home=home_path,
        probe=_probe_settings(raw, config_path),
        keymap=dict(keymap),
        read_only=read_only or bool(ui.get("read_only", False)),
        demo=bool(raw.get("demo", {}).get("enabled", False)) if isinstance(raw.get("demo", {}), Mapping) else False,
        key_age_warn_days=_key_age_warn_days(raw, config_path),
        review=_review_settings(raw, config_path),
    )


DB_URL_HELP = (
    "a SQLite file path (e.g. ~/breaker.db), sqlite:///PATH, or a SQLAlchemy URL such as "
    "postgresql+psycopg://user@host/breaker"
)


def _db_url(flag: str | None, env_value: str | None, raw: Mapping, config_path: Path) -> str:
    """The database URL from --db, BREAKER_DB or [database] url. A plain path means a SQLite file."""
    section = raw.get("database", {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{config_path}: [database] must be a table with url = {DB_URL_HELP}")
    if flag or env_value:
        value, where = (flag, "--db") if flag else (env_value, "BREAKER_DB")
    elif "url" in section:
        value, where = section["url"], f"{config_path}: database.url"
    else:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be {DB_URL_HELP}, not {value!r}")
    value = value.strip()
    if any(not ch.isprintable() for ch in value):
        raise ConfigError(f"{where}: the path holds control characters; use {DB_URL_HELP}")
    if "://" not in value:  # a plain path: a SQLite file
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    scheme = value.split("://", 1)[0].lower()
    if not scheme or not all(ch.isalnum() or ch in "+-." for ch in scheme):
        raise ConfigError(f"{where} must be {DB_URL_HELP}, not {value.split('://', 1)[0]!r}://…")
    return value


def _key_age_warn_days(raw: Mapping, config_path: Path) -> int:
    section = raw.get("review", {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{config_path}: [review] must be a table, e.g. key_age_warn_days = 90")
    value = section.get("key_age_warn_days", 90)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 36500:
        raise ConfigError(
            f"{config_path}: review.key_age_warn_days must be a whole number of days from 1 to 36500 "
            f"(e.g. 90), not {value!r}"
        )
    return value
