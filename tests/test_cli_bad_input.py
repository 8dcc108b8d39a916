"""Every `lm-eval-iberian` command on ordinary mistakes: one line naming the problem and the fix, exit 2, inputs unchanged;
and every command's help names every option with a sentence."""

import argparse
import json
from pathlib import Path

import pytest
import yaml

from lm_eval_iberian.cli import build_parser


@pytest.fixture
def recipe_file(tiny_families, tmp_path) -> Path:
    fam = tiny_families["llama"]
    path = tmp_path / "recipes" / "linear.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"merge_method": "linear", "dtype": "float32", "models": [
        {"model": str(fam["expert"]), "parameters": {"weight": 1.0}}, {"model": str(fam["instruct"]), "parameters": {"weight": 1.0}}]}))
    return path


def _sweep(recipe, out, *extra, values="0.5,1.0"):
    return ["sweep", "--recipe", recipe, "--param", "weight:llama-expert", "--values", values, "--tasks", "iberian_ca",
            "--output", out, *extra]


@pytest.mark.parametrize(("values", "fragments"), [
    ("0.5,abc", ["argument --values", "--values='abc' is not a number"]),
    ("0.5,0.5", ["argument --values", "0.5 and 0.5 are the same value"]),
    ("1,1.0", ["1 and 1.0 are the same value"]),
    ("0.5,,1", ["no empty item"]),
    ("nan", ["not a finite number"]),
    ("1e999", ["not a finite number"]),
])
def test_sweep_values_name_the_option(cli_error, recipe_file, tmp_path, values, fragments):
    cli_error(_sweep(recipe_file, tmp_path / "out", values=values), *fragments, inputs=[recipe_file], outputs=[tmp_path / "out"])


@pytest.mark.parametrize(("extra", "fragments"), [
    (["--seed", "-1"], ["argument --seed", "out of range", "[0, 4294967295]"]),
    (["--seed", "x"], ["argument --seed", "not an integer"]),
    (["--limit", "0"], ["argument --limit", "out of range"]),
    (["--limit", "-0.5"], ["argument --limit", "out of range"]),
    (["--num_fewshot", "-1"], ["argument --num_fewshot", "out of range"]),
    (["--bootstrap_iters", "lots"], ["argument --bootstrap_iters", "not an integer"]),
    (["--max_length", "0"], ["argument --max_length"]),
    (["--dtype", "float8"], ["argument --dtype: invalid choice"]),
    (["--vllm_args", "tensor_parallel_size=2"], ["--vllm_args applies to --backend vllm only"]),
    (["--backend", "vllm", "--vllm_args", "tensor_parallel_size"], ["is not key=value"]),
])
def test_sweep_options_are_checked_before_any_work(cli_error, recipe_file, tmp_path, extra, fragments):
    cli_error(_sweep(recipe_file, tmp_path / "out", *extra), *fragments, inputs=[recipe_file], outputs=[tmp_path / "out"])


def test_sweep_output_must_not_touch_an_input(cli_error, recipe_file, tiny_families):
    fam = tiny_families["llama"]
    cli_error(_sweep(recipe_file, recipe_file.parent), "--output", "contains --recipe", inputs=[recipe_file])
    cli_error(_sweep(recipe_file, fam["expert"] / "sweep"), "output_dir", "lies inside input model", inputs=[recipe_file, fam["expert"]])
    cli_error(_sweep(recipe_file, recipe_file.parent / "x", "--tasks", ""), "--tasks is empty", inputs=[recipe_file])


def test_sweep_recipe_mistakes(cli_error, tmp_path):
    missing = tmp_path / "nope.yml"
    cli_error(_sweep(missing, tmp_path / "out"), "recipe=", "no such file", outputs=[tmp_path / "out"])
    (tmp_path / "folder").mkdir()
    cli_error(_sweep(tmp_path / "folder", tmp_path / "out"), "is a folder")


@pytest.fixture
def results_dir(tmp_path) -> Path:
    good = {"results": {"iberian_eu": {"acc,none": 0.5}}, "config": {"model": "hf", "model_args": "pretrained=org/m"}}
    path = tmp_path / "res" / "m" / "results_2026-01-01T00-00-00.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(good))
    return tmp_path / "res"


@pytest.mark.parametrize(("payload", "fragments"), [
    ({"results": [1, 2]}, ["'results' is a list, not an object of tasks"]),
    ({"results": {"iberian_eu": {"acc,none": 0.5}}, "config": "hf"}, ["'config' is a str, not an object"]),
    ({"results": {"iberian_eu": [0.5]}}, ["results['iberian_eu'] is a list"]),
    ({"config": {}}, ["no 'results' key", "--output_path"]),
    ("not json", ["not a readable lm-eval results file"]),
    ({"results": {}, "config": {"iberian_merge": {"record_version": 9}}}, ["merge record version 9", "upgrade lm-eval-iberian"]),
    ({"results": {}, "config": {"iberian_merge": {"record_version": 1, "method": "linear"}}}, ["the merge record is not valid"]),
    ({"results": {}, "config": {"iberian_merge": "linear"}}, ["config.iberian_merge is not an object"]),
])
def test_report_names_the_bad_results_file(cli_error, results_dir, payload, fragments):
    bad = results_dir / "bad" / "results_2026-01-02T00-00-00.json"
    bad.parent.mkdir()
    bad.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    err = cli_error(["report", results_dir], *fragments, inputs=[results_dir])
    assert str(bad) in err


def test_report_plot_must_not_write_into_its_inputs(cli_error, results_dir, tmp_path):
    cli_error(["report", results_dir, "--plot", "sweep", "--out", results_dir / "fig.png"], "--out", "lies inside input",
              inputs=[results_dir], outputs=[results_dir / "fig.png"])
    cli_error(["report", results_dir, "--plot", "sweep", "--out", tmp_path / "fig.png"], "no merged runs with weights",
              inputs=[results_dir], outputs=[tmp_path / "fig.png"])
    cli_error(["report", tmp_path / "empty-dir-that-does-not-exist"], "no such file or folder")
    (tmp_path / "empty").mkdir()
    cli_error(["report", tmp_path / "empty"], "no lm-eval results files", "--output_path")


IFEVAL_ROW = {"key": 1, "prompt": "Ez erabili komarik.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}],
              "response": "Ados eta kitto."}


@pytest.mark.parametrize(("lines", "fragments"), [
    (["[1, 2]"], ["gen.jsonl:1: expected one JSON object per line", "got a list"]),
    ([json.dumps(IFEVAL_ROW), "{oops"], ["gen.jsonl:2: not valid JSON"]),
    ([json.dumps({**IFEVAL_ROW, "response": 3})], ["gen.jsonl:1: no string field 'response'"]),
    ([""], ["holds no records"]),
])
def test_ifeval_score_input_mistakes(cli_error, tmp_path, lines, fragments):
    src = tmp_path / "gen.jsonl"
    src.write_text("\n".join(lines))
    cli_error(["ifeval", "score", "--lang", "eu", "--input", src, "--output", tmp_path / "s.json"], *fragments,
              inputs=[src], outputs=[tmp_path / "s.json"])


def test_ifeval_score_never_writes_over_its_input(cli_error, tmp_path):
    src = tmp_path / "gen.jsonl"
    src.write_text(json.dumps(IFEVAL_ROW) + "\n")
    cli_error(["ifeval", "score", "--lang", "eu", "--input", src, "--output", src], "--output", "is the same path as --input",
              inputs=[src])
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    cli_error(["ifeval", "score", "--lang", "eu", "--input", src, "--output", link], "is the same path as --input", inputs=[src])
    cli_error(["ifeval", "score", "--lang", "eu", "--input", tmp_path], "is a folder", inputs=[src])
    cli_error(["ifeval", "score", "--lang", "xx", "--input", src], "argument --lang: invalid choice", inputs=[src])


def _subparsers(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*path, name))


def test_every_option_of_every_command_has_a_sentence_of_help():
    commands = list(_subparsers(build_parser()))
    assert len(commands) >= 17
    for path, parser in commands:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            text = action.help or ""
            assert len(text.split()) >= 3, (" ".join(path), action.option_strings or action.dest, text)


def test_the_top_level_help_lists_every_command():
    parser = build_parser()
    leaves = [" ".join(path) for path, p in _subparsers(parser)
              if path and not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)]
    assert len(leaves) >= 12
    for command in leaves:
        assert f"  {command} " in parser.format_help(), command


@pytest.mark.parametrize("flag", ["--dir", "--dest"])
def test_mirror_folder_options_are_not_shown_as_required(flag):
    text = build_parser().format_help() + "".join(p.format_help() for _, p in _subparsers(build_parser()))
    assert f"[{flag} " in text and "default: $IBERIAN_DATA_DIR" in text


@pytest.mark.skipif(__import__("importlib").util.find_spec("vllm") is not None, reason="checks the message without vLLM")
def test_sweep_on_vllm_without_vllm_is_one_line(cli_error, recipe_file, tmp_path):
    cli_error(_sweep(recipe_file, tmp_path / "out", "--backend", "vllm", "--limit", "1"), "needs vLLM",
              "pip install 'lm-eval-iberian[vllm]'", "make vllm-env", inputs=[recipe_file], outputs=[tmp_path / "out"])
