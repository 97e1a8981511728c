from pathlib import Path

import pytest

from flytt.errors import UserError
from flytt.settings import load_settings


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "flytt.toml"
    cfg.write_text('cutover_year = 2024\nconcurrency = 3\nready_services = ["skd-x"]\n')
    monkeypatch.setenv("FLYTT_CONFIG", str(cfg))
    monkeypatch.setenv("FLYTT_CONCURRENCY", "5")
    s = load_settings()
    assert s.cutover_year == 2024
    assert s.concurrency == 5
    assert s.ready_services == ["skd-x"]


def test_secret_in_toml_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "flytt.toml"
    cfg.write_text('warehouse_password = "hunter2"\n')
    monkeypatch.setenv("FLYTT_CONFIG", str(cfg))
    with pytest.raises(UserError, match="FLYTT_WAREHOUSE_PASSWORD") as info:
        load_settings()
    assert "hunter2" not in info.value.message


def test_password_inside_dsn_in_toml_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "flytt.toml"
    cfg.write_text('warehouse_dsn = "postgresql://u:s3cret@db/flytt"\n')
    monkeypatch.setenv("FLYTT_CONFIG", str(cfg))
    with pytest.raises(UserError, match="warehouse_dsn") as info:
        load_settings()
    assert "s3cret" not in info.value.message


def test_secret_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "flytt_warehouse_password").write_text("from-file")
    monkeypatch.setenv("FLYTT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("FLYTT_SECRETS_DIR", str(secrets))
    import importlib

    import flytt.settings as mod

    importlib.reload(mod)
    try:
        s = mod.load_settings()
        assert s.warehouse_password is not None
        assert s.warehouse_password.get_secret_value() == "from-file"
    finally:
        monkeypatch.delenv("FLYTT_SECRETS_DIR")
        importlib.reload(mod)


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLYTT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("FLYTT_CONCURRENCY", "many")
    with pytest.raises(UserError, match="FLYTT_CONCURRENCY"):
        load_settings()


def test_list_that_is_not_json_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLYTT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("FLYTT_READY_SERVICES", "notjson")
    with pytest.raises(UserError, match=r"FLYTT_READY_SERVICES.*JSON"):
        load_settings()


def test_malformed_toml_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "flytt.toml"
    cfg.write_text("this is = = not toml\n")
    monkeypatch.setenv("FLYTT_CONFIG", str(cfg))
    with pytest.raises(UserError, match="not valid TOML"):
        load_settings()
