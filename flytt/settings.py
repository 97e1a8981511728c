"""The one settings object for every part of flytt.

Sources, highest priority first:
1. keyword arguments (tests),
2. environment variables `FLYTT_<FIELD>` (e.g. `FLYTT_WAREHOUSE_DSN`),
3. secret files `<secrets_dir>/flytt_<field>` (Docker/Kubernetes secrets; `FLYTT_SECRETS_DIR`),
4. the TOML file `flytt.toml` in the working directory, or the file named by `FLYTT_CONFIG`.

Secrets (passwords, private keys, tokens) are read only from the environment or from files:
a TOML file that holds a secret field, or a URL with a password in it, is refused with a
`UserError` that names the setting.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from flytt.errors import UserError

SECRET_FIELDS = frozenset(
    {"warehouse_password", "a2_source_password", "maskinporten_key", "a3_token"}
)
URL_FIELDS = frozenset({"warehouse_dsn", "a2_source_url"})


def config_path() -> Path:
    """Path of the TOML settings file: `$FLYTT_CONFIG` or `./flytt.toml` (may not exist)."""
    return Path(os.environ.get("FLYTT_CONFIG", "flytt.toml"))


class _CheckedToml(TomlConfigSettingsSource):
    """TOML source that refuses secrets: they belong in the environment or in files."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        for key, value in data.items():
            if key in SECRET_FIELDS:
                raise UserError(
                    f"{config_path()} sets the secret '{key}'; remove it there and set "
                    f"FLYTT_{key.upper()} in the environment or a secret file instead."
                )
            if key in URL_FIELDS and isinstance(value, str) and _url_has_password(value):
                raise UserError(
                    f"{config_path()} puts a password inside '{key}'; remove it there and set "
                    f"FLYTT_{key.upper().replace('_DSN', '').replace('_URL', '')}_PASSWORD "
                    "in the environment instead."
                )
        return data


def _url_has_password(url: str) -> bool:
    try:
        return make_url(url).password not in (None, "")
    except ArgumentError:
        return False


_LIST_EXAMPLES = {
    "ready_services": '["skd-migratedcorrespondence-4255-1"]',
    "status_peers": '["http://prod-flytt:9480/status.json"]',
}
"""An example value per list setting, for the error that says lists are JSON."""


class Settings(BaseSettings):
    """Settings shared by the command line, the loaders, the daemon and exposure.

    Every field maps to `FLYTT_<FIELD>`; times are in UTC unless a field says otherwise.
    """

    model_config = SettingsConfigDict(
        env_prefix="FLYTT_",
        extra="ignore",
        secrets_dir=os.environ.get("FLYTT_SECRETS_DIR") or None,
    )

    # --- local state -------------------------------------------------------------------
    data_dir: Path = Field(
        Path(".flytt"),
        description="Folder for local state: the embedded warehouse (pg/), the sandbox A2 "
        "database, dlt's working directory.",
    )

    # --- warehouse ---------------------------------------------------------------------
    warehouse_dsn: str | None = Field(
        None,
        description="PostgreSQL DSN of the warehouse, e.g. postgresql://flytt@db:5432/flytt. "
        "Unset: an embedded PostgreSQL is started in <data_dir>/pg.",
    )
    warehouse_password: SecretStr | None = Field(
        None, description="Password for the warehouse DSN (environment or secret file only)."
    )

    # --- Altinn 2 source ---------------------------------------------------------------
    a2_source_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the A2 source (mssql+pyodbc://, mysql+pymysql://, "
        "postgresql+psycopg2://, sqlite:///). Unset: the sandbox file <data_dir>/a2.sqlite.",
    )
    a2_source_password: SecretStr | None = Field(
        None, description="Password for the A2 source URL (environment or secret file only)."
    )
    a2_table_map: Path | None = Field(
        None,
        description="YAML file mapping contract tables/columns to the physical A2 names; "
        "unset: the sandbox's names.",
    )

    # --- Altinn 3 and Dialogporten -----------------------------------------------------
    a3_base_url: str = Field(
        "http://127.0.0.1:8731", description="Base URL of the A3 Correspondence API."
    )
    dialogporten_base_url: str = Field(
        "http://127.0.0.1:8732", description="Base URL of Dialogporten (service-owner API)."
    )
    resource_registry_base_url: str = Field(
        "http://127.0.0.1:8733", description="Base URL of the A3 Resource Registry."
    )
    maskinporten_token_url: str = Field(
        "http://127.0.0.1:8734/token", description="Maskinporten token endpoint."
    )
    maskinporten_client_id: str = Field(
        "flytt-sandbox", description="Maskinporten client id (the integration's id)."
    )
    maskinporten_key_file: Path | None = Field(
        None, description="PEM file with the private key that signs Maskinporten assertions."
    )
    maskinporten_key: SecretStr | None = Field(
        None, description="PEM private key itself (environment or secret file only)."
    )

    # --- step 2.2 A3 → A2: the SBL bridge ------------------------------------------------
    a2_bridge_base_url: str = Field(
        "http://127.0.0.1:8735/serviceengine/api/",
        description="The A2 SBL bridge's correspondence endpoint (Storage's "
        "BridgeApiCorrespondenceEndpoint): events A3 sent are applied there as "
        "syncmarkasread / syncconfirm / syncdelete.",
    )
    sbl_bridge_token_issuer: str | None = Field(
        None,
        description="Issuer whose tokens the daemon's SBL-bridge endpoint accepts (scope "
        "altinn:correspondence.sblbridge); unset: the Maskinporten of "
        "FLYTT_MASKINPORTEN_TOKEN_URL (its URL without /token, plus '/').",
    )
    sbl_bridge_jwks_url: str | None = Field(
        None,
        description="JWKS of that issuer; unset: FLYTT_MASKINPORTEN_TOKEN_URL without "
        "/token, plus /jwk (Maskinporten's own layout).",
    )
    a2_endpoints_disabled: bool = Field(
        False,
        description="Altinn 2 is switched off: the SBL-bridge endpoint answers 410 Gone, as "
        "Storage did with DisableA2Endpoints.",
    )

    # --- per-run limits ----------------------------------------------------------------
    batch_size: int = Field(500, ge=1, description="Elements claimed per batch.")
    max_per_service: int | None = Field(
        None, ge=1, description="Upper bound of elements per service and run (unset: no bound)."
    )
    concurrency: int = Field(8, ge=1, le=256, description="Parallel requests to A3.")
    max_attempts: int = Field(5, ge=1, description="Attempts before an element is 'failed'.")
    lease_seconds: int = Field(300, ge=10, description="Lease length of a claimed element.")
    cutover_year: int = Field(2025, ge=2006, le=2100, description="Exposure starts here.")
    ready_services: list[str] = Field(
        default_factory=list,
        description="Services (A3 resource ids) whose delegations are in sync, so their "
        "elements may be exposed. Empty: none; '*': every service.",
    )
    expose_batch_size: int = Field(
        20,
        ge=1,
        le=999,
        description="Correspondence ids per make-available request (list mode, issue #5).",
    )

    environment: str = Field(
        "local",
        description="Name of the environment this deployment serves (e.g. tt02, prod): shown "
        "by flytt status and the report, and a label of the daemon's metrics.",
    )
    live_share: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Share of each delivery and exposure batch kept for live elements (those "
        "that became eligible within live_window_minutes); the backlog gets the rest.",
    )
    live_window_minutes: int = Field(
        1440, ge=0, description="How recently an element became eligible to count as live."
    )
    daemon_port: int = Field(
        9480, ge=0, le=65535, description="Port of `flytt daemon`'s /healthz, /readyz, /metrics."
    )
    daemon_host: str = Field(
        "127.0.0.1", description="Interface of `flytt daemon`'s HTTP port (0.0.0.0: every one)."
    )
    daemon_load_every_seconds: int = Field(
        10, ge=1, description="How often the daemon loads the A2 increment and builds the marts."
    )
    daemon_test_every_seconds: int = Field(
        600, ge=1, description="How often the daemon runs the dbt data tests on the marts."
    )
    daemon_migrate_every_seconds: int = Field(
        5, ge=1, description="How often the daemon discovers and delivers elements (step 2.1)."
    )
    daemon_expose_every_seconds: int = Field(
        5, ge=1, description="How often the daemon exposes delivered elements (steps 5, 6)."
    )
    daemon_sync_every_seconds: int = Field(
        5,
        ge=1,
        description="How often the daemon sends new A2 events of migrated elements to A3 "
        "(step 2.2).",
    )
    daemon_bridge_every_seconds: int = Field(
        5,
        ge=1,
        description="How often the daemon applies the events A3 sent to the SBL-bridge "
        "endpoint to A2 (step 2.2, A3 → A2).",
    )
    daemon_elements_per_job: int = Field(
        500, ge=1, description="Elements one daemon delivery or exposure job handles at most."
    )
    daemon_concurrency: int = Field(
        4, ge=1, le=64, description="Jobs one daemon process runs at once."
    )
    daemon_shutdown_seconds: float = Field(
        20, ge=1, description="How long SIGTERM waits for running jobs before it aborts them."
    )
    daemon_history_every_seconds: int = Field(
        60,
        ge=1,
        description="How often the daemon writes a sample of the status counts to "
        "the status history (the status page plots and each step's `since`).",
    )
    history_days: int = Field(
        90, ge=1, description="How long the status history keeps its samples (days)."
    )
    status_peers: list[str] = Field(
        default_factory=list,
        description="Status URLs (`http://host:9480/status.json`) of other environments' "
        "daemons: the status page shows them as more columns of the step table.",
    )

    @field_validator("status_peers")
    @classmethod
    def _peer_urls(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v)]
        if bad:
            raise ValueError(
                f"{bad[0]!r} is not an http(s) URL; give each daemon's status URL, e.g. "
                "http://HOST:9480/status.json"
            )
        return value

    @field_validator("a2_bridge_base_url", "sbl_bridge_token_issuer", "sbl_bridge_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        try:
            port = parts.port  # raises ValueError for a port outside 0-65535 or not a number
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == 0 or port == -1:
            raise ValueError(
                "is not an http(s) URL with a host (and a port from 1 to 65535), e.g. "
                "https://host/sblbridge/serviceengine/api/"
            )
        return value

    def maskinporten_base(self) -> str:
        """`maskinporten_token_url` without its last path segment (`/token`)."""
        return self.maskinporten_token_url.rsplit("/", 1)[0]

    @field_validator("environment")
    @classmethod
    def _environment_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", value):
            raise ValueError(
                "must be 1 to 32 lower-case letters, digits, '_' or '-', starting with a letter "
                "or digit (e.g. tt02, prod)"
            )
        return value

    @field_validator(
        "daemon_load_every_seconds",
        "daemon_test_every_seconds",
        "daemon_migrate_every_seconds",
        "daemon_expose_every_seconds",
        "daemon_sync_every_seconds",
        "daemon_bridge_every_seconds",
        "daemon_history_every_seconds",
    )
    @classmethod
    def _schedulable(cls, value: int) -> int:
        # a cron schedule (the queue's periodic tasks) repeats evenly only on these periods
        if (value <= 60 and 60 % value == 0) or (value % 60 == 0 and 3600 % value == 0):
            return value
        raise ValueError(
            "must divide a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) or be whole "
            "minutes that divide an hour (120, 180, …, 3600)"
        )

    @field_validator("warehouse_dsn", "a2_source_url")
    @classmethod
    def _valid_url(cls, value: str | None, info: Any) -> str | None:
        if value is None or value == "":
            return None
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("is not a URL of the form driver://user@host:port/database") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _CheckedToml(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, file_secret_settings, toml)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from environment, secret files and `flytt.toml`.

    Args:
        overrides: field values that win over every other source (used by tests).

    Returns:
        A validated `Settings`.

    Raises:
        UserError: a value is invalid; the message names the `FLYTT_*` variable to fix.
    """
    secrets_dir = os.environ.get("FLYTT_SECRETS_DIR")
    if secrets_dir and not Path(secrets_dir).is_dir():
        raise UserError(
            f"FLYTT_SECRETS_DIR names {secrets_dir}, which is not a folder; create it or unset it."
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        reason = err["msg"].removeprefix("Value error, ")
        raise UserError(
            f"Setting FLYTT_{field.upper()} is invalid ({reason[:1].lower()}{reason[1:]}); "
            f"fix it in the environment or in {config_path()}."
        ) from None
    except SettingsError as exc:
        # pydantic-settings could not even parse a value, e.g. a list that is not JSON
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        example = _LIST_EXAMPLES.get(field, '["skd-migratedcorrespondence-4255-1"]')
        raise UserError(
            f"Setting FLYTT_{field.upper()} could not be read; lists are written as JSON, "
            f"e.g. FLYTT_{field.upper()}='{example}'."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(
            f"{config_path()} is not valid TOML ({exc}); fix the file or point FLYTT_CONFIG "
            "elsewhere."
        ) from None
