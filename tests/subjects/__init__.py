import pytest

# The request steps that many modules share keep pytest's detailed assertion messages.
pytest.register_assert_rewrite("tests.subjects.requests_support")
