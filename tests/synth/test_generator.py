"""The synthetic clinic end to end, on a tiny clinic written once per module."""

from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from fhir.resources.R4B.bundle import Bundle

from health_advisor.catalog import load_catalog
from health_advisor.errors import InputError
from health_advisor.synth.generator import SynthSummary, generate_clinic

CLIENTS, DAYS, SEED = 120, 35, 3


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("clinic")
    done: list[int] = []
    summary = generate_clinic(
        out, clients=CLIENTS, days=DAYS, seed=SEED, chunk_size=50, progress=done.append
    )
    assert done == [50, 100, 120]
    return out, summary


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_identical_bytes_whatever_the_chunking(
    clinic: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    out, _ = clinic
    generate_clinic(tmp_path, clients=CLIENTS, days=DAYS, seed=SEED, chunk_size=CLIENTS)
    names = _files(out)
    assert names == _files(tmp_path)
    _, mismatch, errors = filecmp.cmpfiles(out, tmp_path, names, shallow=False)
    assert mismatch == [] and errors == []


def test_another_seed_gives_another_clinic(tmp_path: Path) -> None:
    generate_clinic(tmp_path / "a", clients=10, days=7, seed=1)
    generate_clinic(tmp_path / "b", clients=10, days=7, seed=2)
    first = (tmp_path / "a" / "surveys" / "intake.csv").read_bytes()
    assert first != (tmp_path / "b" / "surveys" / "intake.csv").read_bytes()


def test_summary_lists_the_files(clinic: tuple[Path, SynthSummary]) -> None:
    out, summary = clinic
    assert summary.seed_csv_clients + summary.fitbit_clients == CLIENTS
    assert 0.2 < summary.fitbit_clients / CLIENTS < 0.6
    assert summary.fhir_bundles == 2
    assert {str(p.relative_to(out)) for p in summary.files} == set(_files(out))
    assert summary.rows["surveys/intake.csv"] == CLIENTS


def test_seed_csv(clinic: tuple[Path, SynthSummary]) -> None:
    out, _ = clinic
    frame = pd.read_csv(out / "seed" / "clinic_daily.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(out / "ground_truth" / "clients.csv", dtype={"client_id": str})
    sheet_clients = set(truth.loc[truth["source"] == "seed_csv", "client_id"])
    assert set(frame["client_id"]) == sheet_clients
    assert frame["date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    bp = frame["blood_pressure"][frame["blood_pressure"] != ""]
    assert bp.str.fullmatch(r"\d{2,3}(/\d{2,3})?").all() and bp.str.contains("/").mean() > 0.9
    assert frame["bedtime"][frame["bedtime"] != ""].str.fullmatch(r"[0-2]\d:[0-5]\d").all()
    macro = frame["macronutrient_ratio"][frame["macronutrient_ratio"] != ""]
    sums = macro.str.split("/", expand=True).astype(int).sum(axis=1)
    assert (sums == 100).all()
    chol = pd.to_numeric(frame["cholesterol_levels"][frame["cholesterol_levels"] != ""])
    assert len(chol) >= len(sheet_clients)  # intake labs for everyone
    heart = pd.to_numeric(frame["heart_rate"][frame["heart_rate"] != ""])
    assert heart.median() == pytest.approx(65, abs=10)


def test_fitbit_files_follow_the_fitabase_format(
    clinic: tuple[Path, SynthSummary], shared_data: Path
) -> None:
    out, _ = clinic
    for name in ("dailyActivity_merged.csv", "sleepDay_merged.csv", "weightLogInfo_merged.csv"):
        ours = (out / "fitbit" / name).read_bytes()
        real = (shared_data / "fitbit" / name).read_bytes()
        assert ours.split(b"\r\n")[0] == real.split(b"\r\n")[0]
        assert ours.endswith(b"\r\n") and b"\n" not in ours.replace(b"\r\n", b"")
    activity = pd.read_csv(out / "fitbit" / "dailyActivity_merged.csv", dtype={"Id": str})
    assert activity["ActivityDate"].str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}").all()
    not_worn = activity[activity["TotalSteps"] == 0]
    assert len(not_worn) > 0 and (not_worn["SedentaryMinutes"] == 1440).all()
    minutes = activity[["VeryActiveMinutes", "FairlyActiveMinutes", "LightlyActiveMinutes",
                        "SedentaryMinutes"]].sum(axis=1)  # fmt: skip
    assert (minutes <= 1440).all()
    sleep = pd.read_csv(out / "fitbit" / "sleepDay_merged.csv")
    assert sleep["SleepDay"].str.endswith(" 12:00:00 AM").all()
    assert (sleep["TotalTimeInBed"] > sleep["TotalMinutesAsleep"]).all()
    weight = pd.read_csv(out / "fitbit" / "weightLogInfo_merged.csv")
    assert weight["Date"].str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d:\d\d [AP]M").all()
    assert (weight["WeightPounds"] / weight["WeightKg"]).round(4).eq(2.2046).all()
    assert weight["Fat"].isna().mean() > 0.8


def test_fhir_bundles_validate_and_link(clinic: tuple[Path, SynthSummary]) -> None:
    out, _ = clinic
    patients, units = set(), set()
    for path in sorted((out / "fhir").glob("bundle-*.json")):
        text = path.read_text(encoding="utf-8")
        bundle = Bundle.model_validate_json(text)
        assert bundle.type == "collection"
        data = json.loads(text)
        kinds = [e["resource"]["resourceType"] for e in data["entry"]]
        assert kinds.count("Patient") <= 100
        for entry in data["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Patient":
                patients.add(resource["id"])
                continue
            assert resource["subject"]["reference"].removeprefix("Patient/") in patients
            assert re.search(r"T\d\d:\d\d:\d\d-05:00$", resource["effectiveDateTime"])
            quantities = [c["valueQuantity"] for c in resource.get("component", [])]
            quantities += [resource["valueQuantity"]] if "valueQuantity" in resource else []
            units.update(q["code"] for q in quantities)
    assert len(patients) == CLIENTS
    assert {"mm[Hg]", "/min", "kg", "cm", "kg/m2", "mg/dL", "%"} <= units


def test_history_respects_contraindications(clinic: tuple[Path, SynthSummary]) -> None:
    out, _ = clinic
    truth = pd.read_csv(out / "ground_truth" / "adherence.csv", dtype={"client_id": str})
    catalog = load_catalog()
    assert len(truth) == CLIENTS * len(catalog.interventions)
    assert truth["p_adherence"].between(0, 1).all()
    assert truth["expected_rating"].between(1, 5).all()
    events = pd.read_csv(out / "interactions" / "interactions.csv", dtype={"client_id": str})
    assert set(events["kind"]) == {"recommended", "accepted", "declined", "adherence", "rating"}
    recommended = events[events["kind"] == "recommended"]
    joined = recommended.merge(truth, on=["client_id", "intervention_id"])
    assert (joined["allowed"] == 1).all()
    per_client = recommended.groupby("client_id").size()
    assert per_client.max() <= 15 and per_client.median() >= 8
    adherence = events[events["kind"] == "adherence"]["value"]
    assert adherence.between(0, 100).all()
    assert events[events["kind"] == "rating"]["value"].between(1, 5).all()
    assert events["at"].str.endswith("-05:00").all()


def test_adherence_observations_follow_the_true_probability(
    clinic: tuple[Path, SynthSummary],
) -> None:
    out, _ = clinic
    truth = pd.read_csv(out / "ground_truth" / "adherence.csv", dtype={"client_id": str})
    events = pd.read_csv(out / "interactions" / "interactions.csv", dtype={"client_id": str})
    weekly = events[events["kind"] == "adherence"].merge(truth, on=["client_id", "intervention_id"])
    assert weekly["value"].corr(100 * weekly["p_adherence"]) > 0.5
    error = ((weekly["value"] - 100 * weekly["p_adherence"]) ** 2).mean() ** 0.5
    floor = json.loads((out / "ground_truth" / "model.json").read_text())["noise_floor"]
    assert error == pytest.approx(floor["adherence_pct_rmse"], rel=0.15)


def test_ground_truth_logs(clinic: tuple[Path, SynthSummary]) -> None:
    out, _ = clinic
    injected = pd.read_csv(out / "ground_truth" / "injected.csv")
    assert set(injected["kind"]) <= {"outlier", "unit_mixup", "dropout", "missing_day"}
    assert {"outlier", "dropout", "missing_day", "unit_mixup"} <= set(injected["kind"])
    episodes = pd.read_csv(out / "ground_truth" / "illness_episodes.csv")
    assert len(episodes) > 0
    length = pd.to_datetime(episodes["end"]) - pd.to_datetime(episodes["start"])
    assert length.dt.days.between(2, 9).all()
    assert episodes["rhr_delta"].between(5, 12).all()
    clients = pd.read_csv(out / "ground_truth" / "clients.csv")
    for trait in ("motivation", "time_budget", "social", "chronotype", "diet_openness",
                  "fitness", "nhanes_seqn"):  # fmt: skip
        assert clients[trait].notna().all()


def test_illness_shows_in_resting_heart_rate(clinic: tuple[Path, SynthSummary]) -> None:
    out, _ = clinic
    sheet = pd.read_csv(out / "seed" / "clinic_daily.csv", dtype={"client_id": str})
    episodes = pd.read_csv(out / "ground_truth" / "illness_episodes.csv", dtype={"client_id": str})
    episodes = episodes[episodes["source"] == "seed_csv"]
    days = sheet.merge(episodes, on="client_id", how="inner")
    ill = (days["date"] >= days["start"]) & (days["date"] <= days["end"])
    by_client = days.assign(ill=ill).groupby(["client_id", "ill"])["heart_rate"].median()
    rise = by_client.unstack().dropna()
    assert (rise[True] - rise[False]).median() >= 4


def test_bad_sizes_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--clients"):
        generate_clinic(tmp_path, clients=0, days=5, seed=1)
    with pytest.raises(InputError, match="--days"):
        generate_clinic(tmp_path, clients=5, days=0, seed=1)
