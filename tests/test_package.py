import importlib.metadata

import smarts_rl


def test_installed_version_matches_package():
    assert importlib.metadata.version("smarts-rl") == smarts_rl.__version__


def test_pinned_stack_is_installed():
    for dist, version in {"ray": "2.60.0", "smarts": "2.0.1", "gymnasium": "1.2.2"}.items():
        assert importlib.metadata.version(dist) == version
    assert importlib.metadata.version("torch").startswith("2.13.0")
