"""The conda environment files and the pip requirements pin the same versions."""

import re

import pytest
import yaml

from tests.conftest import REPO

FORBIDDEN = {"torchvision", "timm", "cc-vjepa2"}  # CUDA-only wheels, a second torch


def pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def requirements() -> dict[str, str]:
    return pins((REPO / "requirements.txt").read_text().splitlines())


def pip_section(path) -> list[str]:
    env = yaml.safe_load(path.read_text())
    for dep in env["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    return []


@pytest.mark.parametrize("path", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_rule_envs_pin_the_requirements_versions(path):
    req = requirements()
    env = pins(pip_section(path))
    assert env, f"{path.name} pins nothing"
    for name, version in env.items():
        assert name in req, f"{path.name}: {name} is not in requirements.txt"
        assert version == req[name], f"{path.name}: {name}=={version}, requirements: {req[name]}"


def test_driver_env_installs_requirements_and_package():
    entries = pip_section(REPO / "environment.yml")
    assert "-r requirements.txt" in entries and "-e ." in entries


def test_torch_pinned_and_no_cuda_only_packages():
    req = requirements()
    assert req["torch"] == "2.13.0"
    files = [
        REPO / "requirements.txt",
        REPO / "requirements-dev.txt",
        REPO / "pyproject.toml",
        REPO / "environment.yml",
        *(REPO / "envs").glob("*.yaml"),
    ]
    for f in files:
        text = "\n".join(line.split("#")[0] for line in f.read_text().lower().splitlines())
        words = set(re.findall(r"[A-Za-z0-9_-]+", text))
        assert not FORBIDDEN & words, f"{f.name} names {FORBIDDEN & words}"


def test_every_rule_names_an_existing_env():
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for ref in re.findall(r'"\.\./\.\./envs/([\w.-]+)"', smk.read_text()):
            assert (REPO / "envs" / ref).is_file(), f"{smk.name} uses missing envs/{ref}"


# Pinned distributions that are used as tools rather than imported by the package.
TOOLS = {"snakemake", "snakemake-executor-plugin-slurm"}
IMPORT_NAME = {"pillow": "PIL", "scikit-learn": "sklearn", "pyyaml": "yaml"}


def test_every_pin_is_used():
    """A pin nothing imports is dead weight in every install (``rich`` once was)."""
    sources = [
        *(REPO / "src").rglob("*.py"),
        *(REPO / "benchmarks").glob("*.py"),
        REPO / "Snakefile",
        *(REPO / "workflow/rules").glob("*.smk"),
    ]
    text = "\n".join(p.read_text() for p in sources)
    for name in sorted(set(requirements()) - TOOLS):
        module = IMPORT_NAME.get(name, name.replace("-", "_"))
        pattern = rf"^\s*(import|from)\s+{re.escape(module)}\b"
        assert re.search(pattern, text, flags=re.M), f"requirements.txt pins {name}, never imported"
