"""cfyd's REST service driven by the unmodified cloudify-rest-client 3.3.1 from PyPI."""
