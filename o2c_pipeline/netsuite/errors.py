"""NetSuite's error answers in the pipeline's one error shape
(:class:`~o2c_pipeline.resources.errors.ApiError`)."""

from __future__ import annotations

from o2c_pipeline.resources.errors import ApiError


class NetSuiteApiError(ApiError):
    """An error answer from NetSuite, or a network failure after all retries; secrets removed.

    ``error_code`` is ``o:errorDetails[0].o:errorCode``; ``request`` the method and path;
    ``field_path`` NetSuite's pointer to the offending field (``o:errorPath``), when it gives one.
    """

    system = "NetSuite"


class NetSuiteAuthError(NetSuiteApiError):
    """NetSuite's OAuth 2.0 token endpoint refused (or could not answer) a token request."""
