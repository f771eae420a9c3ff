"""Guards for the constructs/ source-root rule (see constructs/README.md)."""

import sys
from pathlib import Path

from harness import REPO_ROOT


def test_constructs_folder_is_a_source_root_not_a_package():
    assert (REPO_ROOT / "constructs" / "mwaa_platform" / "__init__.py").is_file()
    assert not (REPO_ROOT / "constructs" / "__init__.py").exists(), (
        "constructs/__init__.py shadows the PyPI package 'constructs' (aws-cdk#19301); delete it"
    )


def test_import_constructs_resolves_to_the_pypi_package():
    import constructs

    location = Path(constructs.__file__).resolve()
    assert "site-packages" in location.parts, f"'import constructs' resolved to {location}"
    assert REPO_ROOT / "constructs" not in location.parents
    assert hasattr(constructs, "Construct")


def test_library_is_imported_as_mwaa_platform_only():
    import mwaa_platform  # noqa: F401

    assert not any(name.startswith("constructs.mwaa_platform") for name in sys.modules)
