"""The sandbox fixtures (``sandbox``, ``private_sandbox``, ``sandbox_env``) come from the pytest
plugin :mod:`o2c_sandbox.testing`, which ``pyproject.toml`` loads for every test run."""
