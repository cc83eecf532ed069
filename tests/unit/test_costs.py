"""The cost model: figures computed from stated assumptions, overrides, refused input, the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.costs import model
from anl_stack.costs.params import apply_overrides, load_inputs, parse_override
from anl_stack.costs.report import cost_report
from anl_stack.plugins.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]
STREAMING = ROOT / "plugins" / "streaming"
OFFERS = [{"name": "a", "ram_mb": 2048, "disk_gb": 500, "bandwidth_mbps": 150, "eur_per_month": 10},
          {"name": "b", "ram_mb": 8192, "disk_gb": 2000, "bandwidth_mbps": 250, "eur_per_month": 45}]


def _values(**changes: float | None) -> dict[str, float | None]:
    values: dict[str, float | None] = {key: None for key in model.required_keys("streaming")}
    values.update(horizon_months=12, retention_months=12, viewers=40, hours_per_month=3, bitrate_kbps=2000,
                  app_disk_gb=2, deploy_minutes=30, preparation_hours=1.5, hourly_cost_eur=40,
                  admin_hours_per_month=2, egress_eur_per_gb=0.01, ram_mb=1024)
    values.update(changes)
    return values


def _lines(size: dict) -> dict[str, dict]:
    return {line["key"]: line for line in size["lines"]}


def test_streaming_figures_follow_the_bandwidth_rule() -> None:
    v = _values()
    [size] = model.compute("streaming", v, OFFERS, [10000])
    lines = _lines(size)
    gb_per_hour_per_viewer = v["bitrate_kbps"] * 3600 / 8 / 1e6  # type: ignore[operator]
    assert lines["peak_mbps"]["value"] == v["viewers"] * v["bitrate_kbps"] / 1000  # type: ignore[operator]
    assert lines["egress_gb_per_month"]["value"] == pytest.approx(
        v["viewers"] * v["hours_per_month"] * gb_per_hour_per_viewer, abs=1e-3)  # type: ignore[operator]
    growth = v["hours_per_month"] * gb_per_hour_per_viewer  # type: ignore[operator]
    assert lines["storage_gb_per_month"]["value"] == pytest.approx(growth, abs=1e-3)
    assert lines["disk_gb"]["value"] == pytest.approx(v["app_disk_gb"] + growth * 12, abs=1e-3)  # type: ignore
    # 80 Mbit/s at peak fits the cheaper offer.
    assert size["server"]["name"] == "a" and lines["hosting_eur_per_month"]["value"] == 10
    setup = v["deploy_minutes"] / 60 + v["preparation_hours"]  # type: ignore[operator]
    assert lines["setup_hours"]["value"] == pytest.approx(setup)
    assert lines["setup_eur"]["value"] == pytest.approx(setup * v["hourly_cost_eur"])  # type: ignore[operator]
    traffic = lines["egress_gb_per_month"]["value"] * v["egress_eur_per_gb"]
    admin = v["admin_hours_per_month"] * v["hourly_cost_eur"]  # type: ignore[operator]
    assert lines["total_eur_per_month"]["value"] == pytest.approx(10 + traffic + admin, abs=1e-3)
    assert all(not line["missing"] for line in size["lines"])


def test_bandwidth_above_an_offer_picks_the_next() -> None:
    [size] = model.compute("streaming", _values(viewers=100), OFFERS, [2000])  # 200 Mbit/s
    assert size["server"]["name"] == "b"
    [size] = model.compute("streaming", _values(viewers=200), OFFERS, [2000])  # 400 Mbit/s: none
    assert size["server"] is None and _lines(size)["hosting_eur_per_month"]["value"] is None


def test_an_unknown_assumption_leaves_its_figures_unknown_and_names_it() -> None:
    [size] = model.compute("streaming", _values(hours_per_month=None, hourly_cost_eur=None), OFFERS, [2000])
    lines = _lines(size)
    assert lines["egress_gb_per_month"]["value"] is None
    assert lines["egress_gb_per_month"]["missing"] == ["hours_per_month"]
    assert lines["peak_mbps"]["value"] == 80  # does not need the hours
    assert lines["total_eur_per_month"]["value"] is None
    assert lines["total_eur_per_month"]["known_part"] == 10  # hosting is still known
    assert "admin_eur_per_month" in lines["total_eur_per_month"]["missing"]


def test_files_model_fills_every_quota() -> None:
    values = {key: None for key in model.required_keys("files")}
    values.update(accounts=30, quota_gb=20, app_disk_gb=1, ram_mb=512, horizon_months=12)
    [size] = model.compute("files", values, OFFERS, [2000])
    lines = _lines(size)
    assert lines["storage_gb_full"]["value"] == 600
    assert lines["disk_gb"]["value"] == 601
    assert size["server"]["name"] == "b"  # 601 GB > the small offer's 500


def test_yearly_amounts_become_monthly() -> None:
    assert model.per_month(1500, "year") == 125 and model.per_month(9, "month") == 9
    assert model.per_month(100, "once") is None


def test_shipped_streaming_assumptions_and_overrides() -> None:
    inputs = load_inputs(STREAMING)
    assert inputs.model == "streaming"
    assert inputs.assumptions["viewers"].parameter.source  # every assumption says where it comes from
    assert all(a.parameter.source for a in inputs.assumptions.values())
    changed = apply_overrides(inputs, {"viewers": "120", "bitrate_kbps": 1500.5})
    assert changed.values()["viewers"] == 120 and changed.values()["bitrate_kbps"] == 1500.5
    assert changed.assumptions["viewers"].overridden and not changed.assumptions["retention_months"].overridden
    assert inputs.values()["viewers"] != 120  # the original is untouched


@pytest.mark.parametrize(("overrides", "key", "expected"), [
    ({"viewers": "many"}, "viewers", "a whole number >= 0 or 'unknown'"),
    ({"viewers": "-3"}, "viewers", "a whole number >= 0"),
    ({"viewers": "2.5"}, "viewers", "a whole number >= 0"),
    ({"bitrate_kbps": "nan"}, "bitrate_kbps", "a number >= 0"),
    ({"accounts": "3"}, "accounts", "one of: "),
])
def test_bad_overrides_are_refused(overrides: dict, key: str, expected: str) -> None:
    with pytest.raises(AnlError) as error:
        apply_overrides(load_inputs(STREAMING), overrides)
    record = error.value.records[0]
    assert record.key == key and record.expected.startswith(expected)
    assert error.value.exit_code == 2


def test_parse_override() -> None:
    assert parse_override("viewers = 80") == ("viewers", "80")
    with pytest.raises(AnlError):
        parse_override("viewers")


def _cost_plugin(tmp_path: Path, parameters: dict, model_name: str = "polls") -> Path:
    folder = tmp_path / "p"
    folder.mkdir(parents=True)
    (folder / "cost.yml").write_text(yaml.safe_dump({"schema_version": 1, "model": model_name,
                                                     "parameters": parameters}), encoding="utf-8")
    return folder


def _parameter(value: object) -> dict:
    return {"value": value, "unit": "MB", "label": {"fr": "Mémoire", "en": "Memory"},
            "source": "https://example.org/ram", "checked": "2026-12-01"}


def test_cost_file_errors_name_file_key_and_expectation(tmp_path: Path) -> None:
    folder = _cost_plugin(tmp_path, {"ram_mb": _parameter("lots"), "viewers": _parameter(3)})
    with pytest.raises(AnlError) as error:
        load_inputs(folder)
    [record] = error.value.records
    assert record.file == str(folder / "cost.yml") and record.key == "parameters.ram_mb.value"
    assert record.expected == "a number or 'unknown'" and record.line is not None

    folder = _cost_plugin(tmp_path / "b", {"ram_mb": _parameter(150), "viewers": _parameter(3)})
    with pytest.raises(AnlError) as error:
        load_inputs(folder)
    keys = {r.key: r for r in error.value.records}
    assert "parameters.viewers" in keys and keys["parameters.viewers"].expected.startswith("one of:")
    assert "parameters.app_disk_gb" in keys and "parameters.deploy_minutes" in keys  # required, missing


def test_a_plugin_without_cost_parameters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnlError) as error:
        load_inputs(tmp_path)
    assert error.value.records[0].key == "cost"


def test_report_is_json_with_every_assumption_and_the_paid_price() -> None:
    report = cost_report(STREAMING, load_manifest(STREAMING), overrides={"hours_per_month": "2"})
    text = json.dumps(report)  # serialisable as is
    assert json.loads(text)["plugin"] == "streaming"
    assert [s["inhabitants"] for s in report["sizes"]] == list(model.DEFAULT_SIZES)
    assert report["same_for_every_size"]  # no shipped assumption depends on the inhabitants
    keys = {a["key"]: a for a in report["assumptions"]}
    assert keys["hours_per_month"]["value"] == 2 and keys["hours_per_month"]["overridden"]
    assert keys["viewers"]["source"].startswith("Champagnier")
    [paid] = report["paid_before"]
    assert paid["who"].startswith("Champagnier") and paid["per_month"] == paid["amount"] / 12


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="anl-stack")


def test_cost_command_text_and_json() -> None:
    result = run("plugins", "cost", "streaming", "--inhabitants", "10000", "--viewers", "80",
                 "--hours-per-month", "6", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "Commune of 10,000 inhabitants" in result.output
    assert "Peak outgoing bandwidth: 200 Mbit/s" in result.output  # 80 x 2,500 kbit/s
    assert "Outgoing traffic: 540 GB/month" in result.output  # 80 x 2,500 kbit/s x 6 h
    assert "viewers = 80 viewers" in result.output and "(set on the command line)" in result.output
    assert "\nSources\n" in result.output
    french = run("plugins", "cost", "streaming", "--lang", "fr")
    assert french.exit_code == 0 and "Hypothèses" in french.output and "2\u202f000, 10\u202f000, 50\u202f000" in french.output
    data = json.loads(run("plugins", "cost", "streaming", "--set", "viewers=10", "--json").output)
    assert {a["key"]: a["value"] for a in data["assumptions"]}["viewers"] == 10


@pytest.mark.parametrize("args", [
    ["--viewers", "-1"], ["--set", "nothing=1"], ["--set", "viewers"], ["--accounts", "3"],
])
def test_cost_command_refuses_bad_input_with_exit_2(args: list[str]) -> None:
    result = run("plugins", "cost", "streaming", *args)
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("name", ["streaming", "nextcloud", "peertube", "mastodon", "framadate"])
def test_every_plugin_has_a_valid_cost_model(name: str) -> None:
    report = cost_report(ROOT / "plugins" / name, load_manifest(ROOT / "plugins" / name))
    assert report["sizes"] and all(a["source"] for a in report["assumptions"])
