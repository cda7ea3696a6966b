"""Fixtures for driving cfyd's REST service with the unmodified cloudify-rest-client
3.3.1 (installed with --no-deps from requirements-nodeps.txt by ../run).

The client is Python 2 code; shim/ (first on sys.path) supplies its `urlparse`
import and cfy_py2_shim.install() the rest (see that module's docstring). The
`cfyd` fixture (../conftest.py) starts one cfyd per test module.
"""

import os
import pathlib
import sys

import pytest

SHIM = pathlib.Path(__file__).resolve().parent / "shim"
if str(SHIM) not in sys.path:
    sys.path.insert(0, str(SHIM))
    # for any subprocess a test might start
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIM), os.environ.get("PYTHONPATH")]))

import cfy_py2_shim  # noqa: E402

cfy_py2_shim.install()

from cloudify_rest_client import CloudifyClient  # noqa: E402

# The client sets no request timeout: a hung request is cut by pytest-timeout
# (../conftest.py gives every test a default; the modules mark tighter limits).

@pytest.fixture(scope="module")
def client(cfyd):
    """A 3.3.1 client on cfyd's "rest" listener; it talks /api/v2."""
    return CloudifyClient(host="127.0.0.1", port=cfyd.ports["rest"], api_version="v2")
