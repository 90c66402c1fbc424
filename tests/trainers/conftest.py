import pytest

from engine_helpers import standins_dict


@pytest.fixture
def standins():
    return standins_dict()
