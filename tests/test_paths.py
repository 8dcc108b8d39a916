"""The YAML files users name (recipe, grid plan, CPT config) are read by one function: the same damaged file gets
the same one-line error, naming the file, from every reader."""

import pytest
from lm_eval_iberian.cpt import ConfigError, load_config

from lm_eval_iberian.merge import MergeRecipe, RecipeError
from lm_eval_iberian.runs._plan import PlanError, load_plan

READERS = {
    "recipe": (MergeRecipe.from_yaml, RecipeError, "recipe="),
    "plan": (load_plan, PlanError, "plan "),
    "cpt config": (load_config, ConfigError, "config file "),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("folder", None, "is a folder; give "),
    ("missing.yml", False, "does not exist (no such file); give "),
    ("latin1.yml", b"a: \xe9\n", "not UTF-8 text; give "),
    ("cut.yml", b"a: [1,\n", "not valid YAML (line 2, column 1: expected the node content"),
    ("colon.yml", b"a: b: c\n", "not valid YAML (line 1, column 5: mapping values are not allowed here)"),
])
def test_damaged_yaml_files_name_themselves(tmp_path, reader, name, content, fragment):
    read, error, label = READERS[reader]
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif content:
        path.write_bytes(content)
    with pytest.raises(error) as info:
        read(path)
    message = str(info.value)
    assert message.startswith(label) and str(path) in message and fragment in message
    assert "\n" not in message


def test_cpt_override_that_is_not_yaml_is_a_config_error():
    with pytest.raises(ConfigError, match=r"override 'optim.lr=\[1': the value is not valid YAML .*; write a number"):
        load_config(None, ["optim.lr=[1"], model="m", output_dir="o")
