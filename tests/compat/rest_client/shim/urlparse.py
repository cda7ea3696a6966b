"""Python 2's `urlparse` module, which Python 3 folded into `urllib.parse`.

cloudify-rest-client 3.3.1 does `import urlparse` in blueprints.py, plugins.py and
snapshots.py and calls `urlparse.urlparse(path).scheme` to tell a URL from a
local archive path.
"""

from urllib.parse import (
    parse_qs,
    parse_qsl,
    urldefrag,
    urljoin,
    urlparse,
    urlsplit,
    urlunparse,
    urlunsplit,
)

__all__ = ["parse_qs", "parse_qsl", "urldefrag", "urljoin", "urlparse", "urlsplit", "urlunparse", "urlunsplit"]
