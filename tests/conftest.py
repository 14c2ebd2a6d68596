import pytest


@pytest.fixture(scope="session")
def ray_local():
    """One small local Ray instance for all tests that build Algorithms."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
