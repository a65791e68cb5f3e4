"""A bad request is the client's error: one INFO line naming the field, not an ERROR traceback.

BentoML logs every exception of an endpoint at ERROR with its traceback
(`bentoml._internal.server.http_app.log_exception`), the 400s of validation included.
"""

from __future__ import annotations

import logging

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

BENTOML_ENDPOINT_LOGGER = "bentoml._internal.server.http_app"


class ClientErrorsAsInfo(logging.Filter):
    """Rewrites the record of a 4xx into one INFO line; 5xx records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            fields = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()[:5]
            )
            status = 400
        elif isinstance(error, BentoMLException) and int(error.error_code) < 500:
            fields, status = str(error), int(error.error_code)
        else:
            return True
        one_line = fields.replace("\r", "\\r").replace("\n", "\\n")  # no forged log lines
        record.msg, record.args = "%s %s -> %d: %s", (*record.args, status, one_line)  # type: ignore[misc]
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info = record.exc_text = None
        return True


def log_client_errors_as_info() -> None:
    logging.getLogger(BENTOML_ENDPOINT_LOGGER).addFilter(ClientErrorsAsInfo())
