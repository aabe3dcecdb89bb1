"""AWS REST-JSON style errors (status + x-amzn-errortype + {"message": ...})."""

ERRORTYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


class AwsError(Exception):
    def __init__(self, status: int, error_type: str, message: str, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        # Extra debugging info kept only in the request record, never sent.
        self.detail = detail

    def header_value(self) -> str:
        return self.error_type + ERRORTYPE_SUFFIX


def validation(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


def coral_validation(path: str, constraint: str, value=None) -> AwsError:
    """The generic Coral shape-validation wording AWS uses for type/range errors."""
    if value is None:
        msg = f"1 validation error detected: Value at '{path}' failed to satisfy constraint: {constraint}"
    else:
        msg = f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"
    return validation(msg)
