"""requirements.txt checks: what MWAA would silently fail to install is refused at synthesis, with file and line."""

import pytest

from mwaa_platform import MwaaPlatformError
from mwaa_platform.environment.requirements import check_requirements

URL = "https://raw.githubusercontent.com/apache/airflow/constraints-{}/constraints-{}.txt"


def requirements(tmp_path, text):
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return str(path)


def test_a_constraints_file_for_another_airflow_or_python_is_refused(tmp_path):
    path = requirements(tmp_path, "# pins\n--constraint \"" + URL.format("2.11.0", "3.11") + "\"\npandas\n")
    with pytest.raises(MwaaPlatformError, match=r"requirements '.*requirements.txt' line 2: the constraints file is for "
                                                r"Airflow 2.11.0 on Python 3.11, but the environment runs Airflow 2.11.0 on "
                                                r"Python 3.12; use .*constraints-2.11.0/constraints-3.12.txt"):
        check_requirements(path, airflow_version="2.11.0", internet=True)
    path = requirements(tmp_path, "-c " + URL.format("2.11.0", "3.12") + "\n")
    with pytest.raises(MwaaPlatformError, match=r"line 1: the constraints file is for Airflow 2.11.0 .* runs Airflow 3.0.6"):
        check_requirements(path, airflow_version="3.0.6", internet=True)
    check_requirements(path, airflow_version="2.11.0", internet=True)


def test_nothing_may_need_the_internet_on_a_network_without_it(tmp_path):
    url = requirements(tmp_path, "--constraint=" + URL.format("2.11.0", "3.12") + "\n")
    with pytest.raises(MwaaPlatformError, match=r"line 1: the constraints file .* cannot be downloaded on this network "
                                                r"\(no NAT\); remove the line, and MWAA applies its own"):
        check_requirements(url, airflow_version="2.11.0", internet=False)
    pypi = requirements(tmp_path, "apache-airflow-providers-snowflake==6.3.1\n")
    with pytest.raises(MwaaPlatformError, match=r"line 1: 'apache-airflow-providers-snowflake==6.3.1' would be downloaded "
                                                r"from PyPI, which this network cannot reach"):
        check_requirements(pypi, airflow_version="2.11.0", internet=False)
    check_requirements(pypi, airflow_version="2.11.0", internet=True)


def test_wheels_from_plugins_or_a_private_index_pass_without_internet(tmp_path):
    wheels = requirements(tmp_path, "--no-index\n--find-links /usr/local/airflow/plugins\nmy-lib==1.0\n")
    check_requirements(wheels, airflow_version="2.11.0", internet=False)
    index = requirements(tmp_path, "--index-url https://team-111111111111.d.codeartifact.eu-west-1.amazonaws.com/"
                                   "pypi/pypi/simple/\nmy-lib==1.0\n")
    check_requirements(index, airflow_version="2.11.0", internet=False)
    comments = requirements(tmp_path, "# nothing to install\n\n")
    check_requirements(comments, airflow_version="2.11.0", internet=False)


def test_credentials_in_a_requirement_are_refused(tmp_path):
    path = requirements(tmp_path, "git+https://deploy:ghp_secret@github.com/org/lib.git@v1\n")
    with pytest.raises(MwaaPlatformError, match=r"line 1: a requirement must not embed credentials") as error:
        check_requirements(path, airflow_version="2.11.0", internet=True)
    assert "ghp_secret" not in str(error.value)  # the message never repeats the secret


@pytest.mark.parametrize("mode, nat, warned", [("PUBLIC_ONLY", 0, True), ("PRIVATE_ONLY", 0, False), ("PUBLIC_ONLY", 1, False)])
def test_airflow_3_on_a_public_web_server_without_nat_is_warned_about(mode, nat, warned):
    from aws_cdk.assertions import Annotations, Match

    from harness import new_stack
    from mwaa_platform import AirflowEnvironment, AirflowNetwork

    stack = new_stack()
    network = AirflowNetwork(stack, "Network", nat_gateways=nat)
    AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="3.0.6",
                       webserver_access_mode=mode)
    warnings = Annotations.from_stack(stack).find_warning("/Test/Env", Match.string_like_regexp("Airflow API server"))
    assert bool(warnings) is warned


@pytest.mark.parametrize("line", [
    "# MWAA applies its constraints (no --constraint line needed)",   # the example's own comment, once
    "pandas==2.2.3  # see -c docs",
    "# run pip -c constraints.txt yourself",
])
def test_a_line_mwaa_takes_for_a_constraints_line_is_refused(tmp_path, line):
    """MWAA's image (mwaa/utils/user_requirements.py, _requirements_has_constraints) searches every line,
    comments included, for '-c ' or '--constraint '; a match switches off the constraints it forces."""
    path = requirements(tmp_path, f"# the team's packages\n{line}\n")
    with pytest.raises(MwaaPlatformError, match=r"line 2: MWAA's image takes any line containing '-c ' or '--constraint '"):
        check_requirements(path, airflow_version="2.11.0", internet=True)


@pytest.mark.parametrize("text", [
    "# MWAA forces its own constraints file when this file names none\n",
    "--constraint " + URL.format("2.11.0", "3.12") + "\npandas==2.2.3\n",
    "-c " + URL.format("2.11.0", "3.12") + "\n",
    "--constraint=/usr/local/airflow/plugins/constraints.txt\n",   # not a marker for MWAA, but a real line
])
def test_a_real_constraints_line_or_none_passes(tmp_path, text):
    check_requirements(requirements(tmp_path, text), airflow_version="2.11.0", internet=True)


def test_requirement_specifiers_name_the_packages_the_file_adds(tmp_path):
    from mwaa_platform.environment.requirements import requirement_specifiers

    path = requirements(tmp_path, "# packages\n--no-index\nApache_Airflow.Providers-CNCF-Kubernetes==10.5.0  # eks\n"
                                  "pandas[performance] >=2.2\nrequests\n")
    assert requirement_specifiers(path) == {"apache-airflow-providers-cncf-kubernetes": "==10.5.0",
                                            "pandas": ">=2.2", "requests": None}


def test_a_pin_against_the_constraints_mwaa_forces_is_refused(tmp_path):
    """Without a constraints line of its own, MWAA forces the image's; a conflicting pin fails the whole
    install, which MWAA only logs."""
    path = requirements(tmp_path, "apache-airflow-providers-amazon==9.10.0\n")
    with pytest.raises(MwaaPlatformError, match=r"line 1: apache-airflow-providers-amazon==9.10.0 conflicts with MWAA's "
                                                r"constraints for Airflow 2.11.0, which pin 9.8.0: pip refuses the whole file"):
        check_requirements(path, airflow_version="2.11.0", internet=True)
    check_requirements(requirements(tmp_path, "apache-airflow-providers-amazon==9.8\npandas\n"),
                       airflow_version="2.11.0", internet=True)   # 9.8 == 9.8.0 for pip
    # with its own constraints line MWAA forces none, and the file's own constraints decide
    own = "--constraint " + URL.format("2.11.0", "3.12") + "\napache-airflow-providers-amazon==9.10.0\n"
    check_requirements(requirements(tmp_path, own), airflow_version="2.11.0", internet=True)
