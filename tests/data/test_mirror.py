"""The offline mirror: layout, schema checks, pull/add/verify, the loader and its errors."""

import io
import json
import shutil
from pathlib import Path

import datasets
import pytest

from lm_eval_iberian._errors import UsageError
from lm_eval_iberian.data import (
    MANIFEST_NAME,
    SCHEMAS,
    MirrorError,
    SplitRef,
    add,
    expand,
    leaf_tasks,
    load_flores_pair,
    load_task_dataset,
    pull,
    required_files,
    verify,
)
from lm_eval_iberian.data._mirror import split_file


def test_every_task_yaml_names_its_real_hub_dataset_consistently():
    for name, info in leaf_tasks().items():
        cfg = info.config
        kw = cfg["dataset_kwargs"]
        assert name.startswith("iberian_"), name
        assert cfg["dataset_path"] == kw["iberian_source"], name
        assert kw["iberian_source"] in SCHEMAS, name
        if len(kw["iberian_configs"]) == 1:
            config = kw["iberian_configs"][0]
            allowed = {None, "default"} if config == "default" else {config}
            assert cfg.get("dataset_name") in allowed, name
        used = {cfg.get(k) for k in ("training_split", "validation_split", "test_split", "fewshot_split")} - {None}
        assert used == set(kw["iberian_splits"]), (name, used, kw["iberian_splits"])


def test_demo_mirror_is_complete_and_verified(demo_mirror):
    report = verify(demo_mirror)
    assert report.passed, "\n".join(report.lines())
    assert len(report.ok) == len(required_files()) == 75


def test_demo_mirror_has_enough_rows_for_five_shots(demo_mirror):
    """Few-shot pools need k (k+1 when drawn from the scored split) usable rows."""
    for name, info in leaf_tasks().items():
        cfg = info.config
        shots = cfg.get("num_fewshot", 0)
        if not shots:
            continue
        ds = load_task_dataset(**cfg["dataset_kwargs"]) if "load_flores_pair" not in str(cfg.get("custom_dataset")) else load_flores_pair(**cfg["dataset_kwargs"])
        pool = cfg.get("fewshot_split") or cfg.get("training_split") or cfg.get("validation_split")
        scored = cfg.get("test_split") or cfg.get("validation_split")
        need = shots + (pool == scored)
        rows = ds[pool]
        if name.startswith("iberian_bertaqa_"):
            part = "Gai orokorrak" if name.endswith("_global") else "Euskal gaiak"
            rows = rows.filter(lambda d, part=part: d["group"] == part)
        assert len(rows) >= need, (name, pool, len(rows))


def test_expand_groups_to_leaves():
    assert expand(["iberian_ca"]) == [
        "iberian_belebele_cat_Latn", "iberian_catcola", "iberian_openbookqa_ca", "iberian_xstorycloze_ca",
    ]  # fmt: skip
    assert len(expand(["iberian_eus_exams_eu_by_exam"])) == 29
    assert expand(["iberian_eus_exams_eu"]) == ["iberian_eus_exams_eu"]
    assert len(expand(["iberian_mt"])) == 14
    everything = ["iberian_all", "iberian_mt", "iberian_eus_exams_eu_by_exam", "iberian_ifeval", "iberian_ifeval_full", "iberian_ppl"]
    assert len(expand(everything)) == len(leaf_tasks()) == 84
    assert len(expand(["iberian_ifeval"])) == 5
    with pytest.raises(UsageError, match="unknown task or group 'eus_trivia'.*lm-eval-iberian tasks"):
        expand(["eus_trivia"])


def test_loader_ignores_metadata_and_model_args():
    ds = load_task_dataset(
        iberian_source="HiTZ/EusTrivia", iberian_configs=["default"], iberian_splits=["test"],
        version=1.0, pretrained="/some/model", dtype="bfloat16",
    )  # fmt: skip
    assert list(ds) == ["test"] and len(ds["test"]) >= 6
    assert set(ds["test"].column_names) >= {"question", "candidates", "answer"}


def test_flores_pair_joins_languages_on_id():
    ds = load_flores_pair(
        iberian_source="openlanguagedata/flores_plus", iberian_configs=["spa_Latn", "eus_Latn"],
        iberian_splits=["dev", "devtest"],
    )  # fmt: skip
    assert set(ds) == {"dev", "devtest"}
    assert ds["devtest"].column_names == ["id", "sentence_spa_Latn", "sentence_eus_Latn"]
    row = ds["devtest"][0]
    assert row["sentence_spa_Latn"] != row["sentence_eus_Latn"]


@pytest.fixture
def mirror_copy(tmp_path, demo_mirror) -> Path:
    dest = tmp_path / "mirror"
    shutil.copytree(demo_mirror, dest)
    return dest


def test_missing_split_names_it_and_the_pull_command(mirror_copy, monkeypatch):
    ref = SplitRef("HiTZ/EusTrivia", "default", "test")
    split_file(mirror_copy, ref).unlink()
    monkeypatch.setenv("IBERIAN_DATA_DIR", str(mirror_copy))
    with pytest.raises(MirrorError) as err:
        load_task_dataset(iberian_source=ref.dataset, iberian_configs=[ref.config], iberian_splits=[ref.split])
    msg = str(err.value)
    assert "HiTZ/EusTrivia [default] test" in msg
    assert f"lm-eval-iberian data pull --dest {mirror_copy} --datasets HiTZ/EusTrivia" in msg
    report = verify(mirror_copy)
    assert not report.passed and report.missing == [ref]
    assert any("data pull" in line for line in report.lines())


def test_mirror_dir_that_does_not_exist_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("IBERIAN_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(MirrorError, match="is not a folder.*data pull"):
        load_task_dataset(iberian_source="HiTZ/EusTrivia", iberian_configs=["default"], iberian_splits=["test"])


def test_verify_reports_corruption(mirror_copy):
    path = split_file(mirror_copy, SplitRef("nbel/EsCoLA", "default", "validation"))
    path.write_text(path.read_text() + "{not json\n")
    edited = split_file(mirror_copy, SplitRef("HiTZ/EusTrivia", "default", "test"))
    rows = [json.loads(line) for line in edited.read_text().splitlines()]
    rows[0]["answer"] = 9
    edited.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = verify(mirror_copy)
    assert set(report.corrupt) == {
        SplitRef("nbel/EsCoLA", "default", "validation"), SplitRef("HiTZ/EusTrivia", "default", "test"),
    }  # fmt: skip
    assert all("sha256" in why for why in report.corrupt.values())


def test_verify_checks_rows_even_when_manifest_is_rewritten(mirror_copy):
    ref = SplitRef("facebook/belebele", "eus_Latn", "test")
    path = split_file(mirror_copy, ref)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["correct_answer_num"] = 2  # an int where the task needs the string "2"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = json.loads((mirror_copy / MANIFEST_NAME).read_text())
    from lm_eval_iberian.data._mirror import sha256_file

    manifest["files"]["facebook/belebele/eus_Latn/test.jsonl"]["sha256"] = sha256_file(path)
    (mirror_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    report = verify(mirror_copy)
    assert "row 2" in report.corrupt[ref] and "correct_answer_num" in report.corrupt[ref]


def _demo_rows(demo_mirror, ref):
    return [json.loads(line) for line in split_file(demo_mirror, ref).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_add_imports_local_files_and_verify_passes(tmp_path, demo_mirror, fmt):
    ref = SplitRef("HiTZ/EusTrivia", "default", "test")
    rows = _demo_rows(demo_mirror, ref)
    src = tmp_path / f"trivia.{fmt}"
    if fmt == "jsonl":
        src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    elif fmt == "parquet":
        datasets.Dataset.from_list(rows).to_parquet(str(src))
    else:
        import csv

        with src.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            for r in rows:
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in r.items()})
    mirror = tmp_path / "mirror"
    assert add(mirror, "HiTZ/EusTrivia", None, "test", src)[0] == ref
    report = verify(mirror, ["iberian_eus_trivia"])
    assert report.passed, report.lines()
    loaded = [json.loads(line) for line in split_file(mirror, ref).read_text().splitlines()]
    assert [(r["question"], r["candidates"], r["answer"]) for r in loaded] == [
        (r["question"], r["candidates"], r["answer"]) for r in rows
    ]
    assert json.loads((mirror / MANIFEST_NAME).read_text())["files"]["HiTZ/EusTrivia/default/test.jsonl"]["origin"] == f"local:trivia.{fmt}"


def test_add_rejects_bad_input_with_clear_errors(tmp_path, demo_mirror):
    mirror = tmp_path / "mirror"
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in _demo_rows(demo_mirror, SplitRef("HiTZ/EusTrivia", "default", "test"))))
    with pytest.raises(UsageError, match="no iberian_\\* task reads dataset 'HiTZ/Nope'"):
        add(mirror, "HiTZ/Nope", None, "test", good)
    with pytest.raises(MirrorError, match="no iberian_\\* task reads HiTZ/EusTrivia \\[default\\] train.*--split test"):
        add(mirror, "HiTZ/EusTrivia", None, "train", good)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Zer?", "candidates": ["a", "b"], "answer": 5}) + "\n")
    with pytest.raises(MirrorError, match="row 1 .*answer 5 is not an index"):
        add(mirror, "HiTZ/EusTrivia", None, "test", bad)
    wrong_schema = tmp_path / "wrong.jsonl"
    wrong_schema.write_text(json.dumps({"sentence": "x", "label": 1}) + "\n")
    with pytest.raises(MirrorError, match="missing field 'question'"):
        add(mirror, "HiTZ/EusTrivia", None, "test", wrong_schema)
    with pytest.raises(MirrorError, match="unsupported file type '.txt'"):
        (tmp_path / "x.txt").write_text("hi")
        add(mirror, "HiTZ/EusTrivia", None, "test", tmp_path / "x.txt")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "a"}\n{oops\n')
    with pytest.raises(MirrorError, match="broken.jsonl:2: not valid JSON"):
        add(mirror, "HiTZ/EusTrivia", None, "test", broken)
    assert not (mirror / "HiTZ").exists()  # nothing half-written


@pytest.fixture
def hub_revisions(monkeypatch):
    """The hub's dataset_info answers with a made-up commit per dataset (no network)."""
    import hashlib
    from types import SimpleNamespace

    import huggingface_hub

    asked = []

    def dataset_info(self, repo_id, **kwargs):
        asked.append(repo_id)
        return SimpleNamespace(sha=hashlib.sha1(repo_id.encode()).hexdigest())

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    return asked


def test_pull_writes_a_verified_mirror_from_the_hub_api(tmp_path, demo_mirror, monkeypatch, hub_revisions):
    """`pull` through the real datasets.load_dataset call, served from the demo rows, pinned to the resolved revision."""
    import hashlib

    calls = []

    def fake_load_dataset(path, name=None, split=None, revision=None, **kwargs):
        calls.append((path, name, split))
        assert revision == hashlib.sha1(path.encode()).hexdigest(), "the download must be pinned to the revision recorded"
        ref = SplitRef(path, name or "default", split)
        return datasets.Dataset.from_list(_demo_rows(demo_mirror, ref))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    dest = tmp_path / "pulled"
    written = pull(dest, ["iberian_gl", "iberian_flores_to_gl"], log=lambda _: None)
    assert len(written) == len(calls) == len(required_files(["iberian_gl", "iberian_flores_to_gl"]))
    assert ("proxectonos/galcola", None, "test") in calls
    assert ("openlanguagedata/flores_plus", "glg_Latn", "devtest") in calls
    report = verify(dest, ["iberian_gl", "iberian_flores_to_gl"])
    assert report.passed, report.lines()
    origin = json.loads((dest / MANIFEST_NAME).read_text())["files"]["proxectonos/galcola/default/test.jsonl"]["origin"]
    assert origin == f"hub:proxectonos/galcola@{hashlib.sha1(b'proxectonos/galcola').hexdigest()}"
    # A restricted pull only writes that dataset.
    only = pull(tmp_path / "only", datasets_filter=["nbel/EsCoLA"], log=lambda _: None)
    assert {r.dataset for r in only} == {"nbel/EsCoLA"}
    with pytest.raises(MirrorError, match="unknown dataset"):
        pull(tmp_path / "x", datasets_filter=["nbel/Nope"], log=lambda _: None)


def test_pull_refuses_when_the_revision_cannot_be_resolved(tmp_path, monkeypatch):
    import huggingface_hub

    def unreachable(self, repo_id, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", unreachable)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("downloaded without a revision"))
    with pytest.raises(MirrorError, match="could not resolve the current revision of nbel/EsCoLA.*re-run"):
        pull(tmp_path / "m", datasets_filter=["nbel/EsCoLA"], log=lambda _: None)
    assert not (tmp_path / "m" / MANIFEST_NAME).exists()


def test_pull_failure_mentions_gated_access(tmp_path, monkeypatch, hub_revisions):
    def denied(*a, **k):
        raise ConnectionError("401 Client Error: gated dataset")

    monkeypatch.setattr(datasets, "load_dataset", denied)
    with pytest.raises(MirrorError, match="could not download openlanguagedata/flores_plus.*gated: accept the FLORES\\+ terms"):
        pull(tmp_path / "m", ["iberian_flores_es-eu"], log=lambda _: None)


def test_without_mirror_the_loader_calls_the_hub_api(monkeypatch, demo_mirror):
    calls = []

    def fake_load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return datasets.Dataset.from_list(_demo_rows(demo_mirror, SplitRef(path, name or "default", split)))

    monkeypatch.delenv("IBERIAN_DATA_DIR")
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds = load_task_dataset(iberian_source="facebook/belebele", iberian_configs=["eus_Latn"], iberian_splits=["test"])
    assert calls == [("facebook/belebele", "eus_Latn", "test")]
    assert len(ds["test"]) == 7


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_pull_fetches_the_pinned_iber_ifeval_files_and_checks_their_hash(tmp_path, demo_mirror, monkeypatch):
    """Basque/Galician IFEval are GitHub files: pinned to a commit, refused unless the sha256 matches."""
    import hashlib
    import urllib.request

    from lm_eval_iberian.data._schemas import SCHEMAS

    pinned = SCHEMAS["eneko98/Iber-IFEval"].pinned["eu"]
    assert pinned.url.startswith("https://raw.githubusercontent.com/eneko98/Iber-IFEval/d361488de6ff")
    payload = (Path(demo_mirror) / "eneko98/Iber-IFEval/eu/test.jsonl").read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(payload))
    with pytest.raises(MirrorError, match="sha256 .* does not match the pinned"):
        pull(tmp_path / "m", ["iberian_ifeval_eu"], log=lambda _: None)
    from dataclasses import replace

    # The demo rows stand in for the real file: pin their hash instead.
    fake = dict(SCHEMAS["eneko98/Iber-IFEval"].pinned, eu=replace(pinned, sha256=hashlib.sha256(payload).hexdigest()))
    monkeypatch.setitem(SCHEMAS, "eneko98/Iber-IFEval", replace(SCHEMAS["eneko98/Iber-IFEval"], pinned=fake))
    written = pull(tmp_path / "m", ["iberian_ifeval_eu"], log=lambda _: None)
    assert [str(r) for r in written] == ["eneko98/Iber-IFEval [eu] test"]
    manifest = json.loads((tmp_path / "m" / "iberian-mirror.json").read_text())
    assert manifest["files"]["eneko98/Iber-IFEval/eu/test.jsonl"]["origin"].startswith("github:eneko98/Iber-IFEval@d361488")

    def offline(url, timeout=None):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(MirrorError, match="lm-eval-iberian data add"):
        pull(tmp_path / "n", ["iberian_ifeval_gl"], log=lambda _: None)
