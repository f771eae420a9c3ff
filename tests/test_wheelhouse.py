"""The wheelhouse: requirements built into wheels at synthesis from a local wheel folder (never the network)."""

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from harness import new_stack
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError
from mwaa_platform.environment import Wheelhouse
from mwaa_platform.environment import environment as environment_module
from mwaa_platform.environment import wheelhouse as wheelhouse_module

CONSTRAINTS = "demo-lib==1.0\n"


def make_wheel(folder: Path, name: str = "demo_lib", version: str = "1.0") -> Path:
    """A minimal valid pure-Python wheel, as pip accepts it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for file_name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{file_name},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w") as archive:
        for file_name, data in files.items():
            archive.writestr(file_name, data)
    return path


@pytest.fixture
def team(tmp_path):
    make_wheel(tmp_path / "wheels")
    (tmp_path / "requirements.txt").write_text("# the team's packages\ndemo-lib==1.0\n")
    (tmp_path / "constraints.txt").write_text(CONSTRAINTS)
    with zipfile.ZipFile(tmp_path / "plugins.zip", "w") as archive:
        archive.writestr("team_plugin/__init__.py", "PLUGIN = True\n")
    return tmp_path


def options(team, **kwargs):
    return Wheelhouse(find_links=str(team / "wheels"), constraints=str(team / "constraints.txt"),
                      cache_dir=str(team / "cache"), **kwargs)


def environment(team, **kwargs):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")  # no internet egress
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0",
                             requirements=str(team / "requirements.txt"), plugins=str(team / "plugins.zip"), **kwargs)
    return stack, env


def test_the_wheelhouse_zips_wheels_plugins_and_constraints_and_installs_only_from_them(team):
    stack, env = environment(team, wheelhouse=options(team))
    build = env.wheelhouse
    assert build.wheels == ("demo_lib-1.0-py3-none-any.whl",)
    with zipfile.ZipFile(build.plugins) as archive:
        assert sorted(archive.namelist()) == ["constraints.txt", "demo_lib-1.0-py3-none-any.whl", "team_plugin/__init__.py"]
        assert archive.read("constraints.txt").decode() == CONSTRAINTS
    assert Path(build.requirements).read_text().splitlines()[1:] == [
        "--no-index", "--find-links /usr/local/airflow/plugins",
        "--constraint /usr/local/airflow/plugins/constraints.txt", "demo-lib==1.0"]
    # both files are versioned artifacts wired into the environment
    template = Template.from_stack(stack)
    (resource,) = template.find_resources("AWS::MWAA::Environment").values()
    properties = resource["Properties"]
    assert properties["RequirementsS3Path"] == "requirements/requirements.txt"
    assert properties["PluginsS3Path"] == "plugins/plugins.zip"
    assert "Fn::GetAtt" in properties["RequirementsS3ObjectVersion"]
    assert "Fn::GetAtt" in properties["PluginsS3ObjectVersion"]


def test_an_unchanged_requirements_file_is_not_downloaded_again_and_yields_the_same_asset(team, monkeypatch):
    _, first = environment(team, wheelhouse=options(team))
    calls = []
    monkeypatch.setattr(wheelhouse_module.subprocess, "run", lambda *a, **k: calls.append(a) or pytest.fail("pip ran"))
    _, second = environment(team, wheelhouse=options(team))
    assert calls == [] and second.wheelhouse == first.wheelhouse
    assert Path(first.wheelhouse.plugins).read_bytes() == Path(second.wheelhouse.plugins).read_bytes()


def test_a_changed_requirement_builds_a_new_wheelhouse(team):
    _, first = environment(team, wheelhouse=options(team))
    make_wheel(team / "wheels", version="2.0")
    (team / "requirements.txt").write_text("demo-lib==2.0\n")
    (team / "constraints.txt").write_text("demo-lib==2.0\n")
    _, second = environment(team, wheelhouse=options(team))
    assert second.wheelhouse.plugins != first.wheelhouse.plugins
    assert second.wheelhouse.wheels == ("demo_lib-2.0-py3-none-any.whl",)


def test_a_package_without_a_wheel_fails_naming_the_runtime(team):
    (team / "requirements.txt").write_text("not-there==1.0\n")
    with pytest.raises(MwaaPlatformError, match=r"^Test/Env: building the wheelhouse failed: pip could not get wheels for "
                                                r"Python 3.12 on manylinux2014_x86_64"):
        environment(team, wheelhouse=options(team))


def test_a_wheelhouse_over_the_size_limit_is_refused(team):
    with pytest.raises(MwaaPlatformError, match=r"the wheelhouse for .* is 0 MiB, over max_size_mib 0"):
        environment(team, wheelhouse=options(team, max_size_mib=0))


def test_without_internet_the_wheelhouse_is_the_default_and_false_turns_it_off(team, monkeypatch):
    built = []

    def fake_build(wheelhouse, *, requirements, plugins, python):
        built.append((wheelhouse, python))
        return wheelhouse_module.WheelhouseBuild(requirements=requirements, plugins=plugins, wheels=())
    monkeypatch.setattr(environment_module, "build_wheelhouse", fake_build)
    environment(team)
    assert built == [(Wheelhouse(), "3.12")]  # PyPI from the synthesizing machine, Python of Airflow 2.11.0
    with pytest.raises(MwaaPlatformError, match=r"'demo-lib==1.0' would be downloaded from PyPI, which this network "
                                                r"cannot reach"):
        environment(team, wheelhouse=False)


def test_with_nat_the_requirements_go_to_mwaa_as_they_are(team):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", nat_gateways=1)
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0",
                             requirements=str(team / "requirements.txt"))
    assert env.wheelhouse is None
