import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate as snakemake_validate

from tests.conftest import REPO
from vjepa_fer.config import (
    SCHEMA_PATH,
    encoder_entries,
    load_config,
    load_schema,
    validate_config,
)


def minimal() -> dict:
    return {"datasets": {"ravdess": {"source": "synth"}}}


@pytest.mark.parametrize(
    ("name", "datasets"),
    [
        ("config.yaml", {"ravdess", "crema-d"}),
        ("config.demo.yaml", {"ravdess", "crema-d", "dfew"}),  # + a synthetic DFEW (issue 13)
        ("config.wild.yaml", {"dfew", "ferv39k", "mafw"}),
    ],
)
def test_shipped_configs_are_valid(name, datasets):
    cfg = load_config(REPO / name)
    assert set(cfg["datasets"]) == datasets


def test_paper_config_is_the_papers_setting():
    cfg = load_config(REPO / "config.yaml")
    assert cfg["encoder"]["name"] == "vit_huge"
    assert cfg["encoder"]["img_size"] == 384
    assert cfg["encoder"]["checkpoint_key"] == "target_encoder"
    assert cfg["datasets"]["ravdess"]["modalities"] == [1, 2]
    assert all(d["expect_full"] for d in cfg["datasets"].values())


def test_defaults_filled_like_snakemake():
    ours = validate_config(minimal(), load_schema(), "test")
    theirs = minimal()
    snakemake_validate(theirs, str(SCHEMA_PATH))
    assert ours == theirs
    assert ours["encoder"]["frame_step"] == 4
    assert ours["datasets"]["ravdess"]["synth"]["actors"] == 10
    assert ours["download"]["cremad_mirrors"][0].startswith("https://gitlab.com/")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: c.update(sede=1),
            "unknown key sede; allowed under the top level: compute, datasets",
        ),
        (lambda c: c["datasets"]["ravdess"].update(expect_ful=True), "datasets/ravdess"),
        (lambda c: c.update(seed="zero"), "seed: 'zero' is not of type 'integer'"),
        (lambda c: c["datasets"]["ravdess"].update(source="ftp"), "'ftp' is not one of"),
        (lambda c: c["datasets"]["ravdess"].update(source="local"), "'root' is a required"),
        (lambda c: c["datasets"]["ravdess"].update(modalities=[3]), "modalities/0"),
        (lambda c: c.update(encoder={"img_size": "384"}), "encoder/img_size"),
        (lambda c: c.update(datasets={}), "should be non-empty"),
    ],
)
def test_bad_configs_name_the_key(mutate, message):
    cfg = minimal()
    mutate(cfg)
    with pytest.raises(ValueError, match="invalid config") as info:
        validate_config(copy.deepcopy(cfg), load_schema(), "bad.yaml")
    assert message in str(info.value)
    assert "bad.yaml" in str(info.value)
    with pytest.raises(WorkflowError):  # Snakemake refuses the same config
        snakemake_validate(cfg, str(SCHEMA_PATH))


def test_unregistered_dataset_names_need_type_custom():
    """The dataset names come from the registry, not the schema file: the project's check (run
    before Snakemake's validate() in the Snakefile) stops a name that is neither registered nor
    declared ``type: custom``, listing the registered ones."""
    cfg = minimal()
    cfg["datasets"]["afew"] = {"source": "local", "root": "x"}
    with pytest.raises(ValueError, match="invalid config") as info:
        validate_config(copy.deepcopy(cfg), load_schema(), "bad.yaml")
    assert "datasets: 'afew' is not one of ['ravdess', 'crema-d', 'dfew'" in str(info.value)
    cfg["datasets"]["afew"]["type"] = "custom"
    cfg["datasets"]["afew"]["classes"] = ["happy", "sad"]
    validate_config(copy.deepcopy(cfg), load_schema(), "ok.yaml")
    snakemake_validate(cfg, str(SCHEMA_PATH))
    assert "ravdess" not in load_schema()["properties"]["datasets"].get("properties", {})


def test_not_a_mapping_and_bad_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        load_config(p)
    p.write_text("a: [1,\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(p)


def test_every_schema_key_is_described():
    def walk(node, path):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                assert "description" in sub or "$ref" in sub, f"{path}/{key} lacks a description"
                walk(sub, f"{path}/{key}")
            if node.get("type") == "object":
                extra = node.get("additionalProperties")
                # A mapping of named entries (datasets) checks every entry against a schema.
                closed = extra is False or isinstance(extra, dict) or "propertyNames" in node
                assert closed, f"{path} allows unknown keys"

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    walk(schema, "")
    for name, sub in schema["$defs"].items():
        walk(sub, f"$defs/{name}")


def test_schema_encoder_names_equal_the_registry():
    from vjepa_fer.models.registry import available_encoders

    enum = load_schema()["$defs"]["encoder"]["properties"]["name"]["enum"]
    assert sorted(enum) == available_encoders()


def test_unknown_encoder_is_refused_by_the_schema_with_the_known_ones():
    cfg = {**minimal(), "encoder": {"name": "vit_hgue"}}
    with pytest.raises(WorkflowError) as info:
        snakemake_validate(copy.deepcopy(cfg), str(SCHEMA_PATH))
    assert "'vit_hgue' is not one of ['tiny'," in str(info.value)
    with pytest.raises(ValueError, match=r"'vit_hgue' is not one of \['tiny',"):
        validate_config(copy.deepcopy(cfg), load_schema(), "test")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"evaluation": {"pca_dataset": "cremad"}},
            "evaluation.pca_dataset: 'cremad' is not one of ['ravdess']",
        ),
        (
            {"datasets": {"cremad": {"source": "synth"}}},
            "datasets: 'cremad' is not one of ['ravdess', 'crema-d', 'dfew', 'ferv39k', 'mafw']",
        ),
    ],
)
def test_unknown_datasets_are_refused_at_start_up_with_the_known_ones(patch, message):
    """Any name can be a (custom) dataset, so the project's start-up check names them."""
    cfg = {**minimal(), **patch}
    with pytest.raises(ValueError) as info:
        validate_config(copy.deepcopy(cfg), load_schema(), "test")
    assert message in str(info.value)


def test_real_encoder_without_weights_is_refused() -> None:
    raw = yaml.safe_load((REPO / "config.yaml").read_text())
    raw["encoder"]["checkpoint"] = None
    schema = load_schema()
    with pytest.raises(ValueError, match=r"c\.yaml: encoder\.checkpoint is null .*random_weights"):
        validate_config(raw, schema, "c.yaml")
    raw["encoder"]["random_weights"] = True
    assert validate_config(raw, schema, "c.yaml")["encoder"]["random_weights"] is True


def two_encoders() -> dict:
    tiny = {"name": "tiny", "checkpoint": None, "url": None}
    return {
        **minimal(),
        "encoders": [{"id": "a", **tiny}, {"id": "b", **tiny, "img_size": 32}],
    }


def test_encoders_list_gives_each_entry_its_defaults_and_keeps_the_order():
    schema = load_schema()
    cfg = validate_config(two_encoders(), schema, "c.yaml")
    encoders = encoder_entries(cfg, schema)
    assert list(encoders) == ["a", "b"]
    assert encoders["a"]["img_size"] == 384 and encoders["b"]["img_size"] == 32
    assert encoders["b"]["checkpoint_key"] == "target_encoder" and encoders["b"]["url"] is None
    # A filled config validates again: its encoder block only holds defaults.
    assert cfg["encoder"]["name"] == "vit_huge"
    cfg["evaluation"]["pca_dataset"] = "ravdess"  # (the default names an absent dataset)
    assert validate_config(cfg, schema, "c.yaml")["encoders"] == cfg["encoders"]


def test_without_encoders_the_block_is_the_one_encoder_named_by_its_registry_name():
    schema = load_schema()
    paper = encoder_entries(load_config(REPO / "config.yaml"), schema)
    assert list(paper) == ["vit_huge"] and paper["vit_huge"]["img_size"] == 384
    cfg = {**minimal(), "encoder": {"id": "mine", "name": "tiny", "checkpoint": None}}
    assert list(encoder_entries(validate_config(cfg, schema, "c.yaml"), schema)) == ["mine"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: c["encoders"][1].update(id="a"),
            "encoders[1].id: 'a' is also the id of encoders[0]; encoder ids must be unique",
        ),
        (
            lambda c: c["encoders"][1].update(id="ravdess"),
            "encoders[1].id: 'ravdess' is a dataset of this run; choose another id",
        ),
        (
            lambda c: c["encoders"][0].update(id="compare"),
            "encoders[0].id: 'compare' is a folder of results/",
        ),
        (
            lambda c: c.update(encoder={"name": "tiny"}),
            "both 'encoder' and 'encoders' are given",
        ),
        (lambda c: c["encoders"][0].pop("id"), "'id' is a required property"),
        # An entry without url would inherit the paper's checkpoint URL: it must say which.
        (lambda c: c["encoders"][1].pop("url"), "'url' is a required property"),
        (
            lambda c: c["encoders"][0].update(id="a b"),
            "encoders/0/id: 'a b' is not allowed here; allowed: letters",
        ),
        (
            lambda c: c["encoders"][1].update(name="vit_large"),
            "encoders[1].checkpoint is null for encoder 'vit_large'",
        ),
        (
            lambda c: [
                e.update(checkpoint="w.pt", url=f"https://x/{e['id']}") for e in c["encoders"]
            ],
            "encoders[1].url: checkpoint 'w.pt' is also encoders[0]'s, downloaded from another",
        ),
        (lambda c: c.update(encoders=[]), "encoders: [] should be non-empty"),
    ],
)
def test_bad_encoder_lists_are_refused_naming_the_entry(mutate, message):
    cfg = two_encoders()
    mutate(cfg)
    with pytest.raises(ValueError) as info:
        validate_config(copy.deepcopy(cfg), load_schema(), "c.yaml")
    assert message in str(info.value)
    assert "c.yaml" in str(info.value)


HOSTILE = "</script><script>alert(1)</script>"


def _custom_entry(**extra) -> dict:
    entry = {"type": "custom", "source": "local", "root": "/data/x", "manifest": "/data/x.csv"}
    return {**entry, "classes": ["joyful", "neutral"], **extra}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: c["datasets"].update(mine=_custom_entry(display_name=HOSTILE)),
            "datasets.mine.display_name: '</script><script>alert(1)</script>' holds '<', '>'",
        ),
        (
            lambda c: c["datasets"].update(mine=_custom_entry(display_name="a | b")),
            "datasets/mine/display_name: 'a | b' is not allowed here; allowed: letters",
        ),
        (
            lambda c: c["datasets"].update(mine=_custom_entry(classes=["joy&fun"])),
            "datasets/mine/classes/0: 'joy&fun' is not allowed here",
        ),
        (
            lambda c: c["datasets"].update(mine=_custom_entry(classes=["joy\nfun"])),
            "datasets.mine.classes[0]: 'joy\\nfun' holds '\\n'",
        ),
        (lambda c: c.update(run_name="../other"), "run_name: '../other' is not allowed here"),
        (
            lambda c: c["datasets"].update(report=_custom_entry()),
            "datasets: 'report' is a folder of results/<run_name>/",
        ),
        (lambda c: c.update(run_name=".hidden"), "run_name: '.hidden' is not allowed here"),
        (
            lambda c: c["encoders"][0].update(id="tiny`x"),
            "encoders/0/id: 'tiny`x' is not allowed here",
        ),
    ],
)
def test_names_that_reach_html_markdown_or_paths_are_refused(mutate, message):
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    mutate(cfg)
    with pytest.raises(ValueError) as info:
        validate_config(cfg, load_schema(), "c.yaml")
    assert str(info.value).startswith("c.yaml: invalid config")
    assert message in str(info.value)


def test_plain_names_pass_and_shipped_configs_have_distinct_run_names():
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["datasets"]["mine"] = _custom_entry(display_name="My faces (2024): lab/field")
    cfg["datasets"]["mine"]["classes"] = ["happily surprised", "neutral", "Überraschung"]
    validate_config(cfg, load_schema(), "c.yaml")
    names = [
        yaml.safe_load((REPO / f).read_text())["run_name"]
        for f in ("config.yaml", "config.demo.yaml", "config.wild.yaml", "config.encoders.yaml")
    ]
    assert len(set(names)) == len(names), names
