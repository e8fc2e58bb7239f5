import pytest


@pytest.fixture
def pyrostage_plugins():
    """Every node in these tests gets the quiz, by its entry-point name (`pip install -e .`)."""
    return ["quiz"]
