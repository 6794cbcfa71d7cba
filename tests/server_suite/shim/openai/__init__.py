"""Stand-in for the `openai` Python package, which cannot be installed here (it is not packaged by Debian).

Three of the suite's modules import it at the top, so without it none of their tests would even load. With this,
they load; a test that creates an OpenAI client is skipped there, since it needs the real SDK to mean anything.
tests/server_suite/run.sh puts this folder on the path only when the real package is missing.
"""
import pytest


class OpenAI:
    def __init__(self, *args, **kwargs):
        pytest.skip("needs the openai Python package, which is not installed")
