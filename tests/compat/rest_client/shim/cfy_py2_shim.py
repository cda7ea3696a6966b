"""Makes the unmodified cloudify-rest-client 3.3.1 (Python 2 code) run on Python 3.

This directory goes first on sys.path (rest_client/conftest.py does it) so that the
client's `import urlparse` finds ./urlparse.py. Everything else it needs is done by
install(), before the client is imported. The client's files are never edited.

What the client needs, module by module (every module of the package is imported
by cloudify_rest_client.client, and all are valid Python 3 syntax):

- blueprints.py: `import urlparse` (-> ./urlparse.py) and `urllib.quote(...)` on the
  `application_file_name` query parameter. `urllib` is a package on Python 3 whose
  functions live in `urllib.parse`; requests needs the real package, so install()
  adds the Python 2 names (quote, unquote, urlencode, ...) to it instead of
  shadowing it.
- plugins.py, snapshots.py: `import urlparse` only.
- client.py: `urllib3.exceptions.InsecurePlatformWarning` at import time, which
  urllib3 2 removed: requirements.txt pins urllib3 1.26. Its DEBUG-only logging
  branch calls `headers.iteritems()` and `requests.get.func_name`; install() pins
  the 'cloudify.rest_client.http' logger to INFO so that branch cannot run even
  under `pytest --log-level=DEBUG`.
- exceptions.py: CloudifyClientError.__str__ reads `self.message`, the Python 2
  BaseException attribute that Python 3 dropped, so str(error) raised
  AttributeError. install() gives the class a read-only `message` property equal
  to the first constructor argument, which is what Python 2 provided.
- responses.py: ListResponse.sort(cmp, key, reverse) passes positional arguments
  to list.sort, which Python 3 rejects: not shimmed (the suites do not call it).
"""

import logging
import urllib
import urllib.parse

_PY2_URLLIB_NAMES = ("quote", "quote_plus", "unquote", "unquote_plus", "urlencode")


def _message(self):
    return self.args[0] if self.args else ""


def install():
    """Idempotent; call before importing cloudify_rest_client."""
    for name in _PY2_URLLIB_NAMES:
        if not hasattr(urllib, name):
            setattr(urllib, name, getattr(urllib.parse, name))
    logging.getLogger("cloudify.rest_client.http").setLevel(logging.INFO)

    from cloudify_rest_client import exceptions

    if not hasattr(exceptions.CloudifyClientError, "message"):
        exceptions.CloudifyClientError.message = property(_message)
