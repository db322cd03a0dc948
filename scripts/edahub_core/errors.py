"""The error type both the hub and the operator tools raise for expected failures."""


class UserError(Exception):
    """An expected failure: says what went wrong and how to fix it, without a traceback."""

    def __init__(self, what, fix=""):
        super().__init__(what)
        self.what = what
        self.fix = fix

    def __str__(self):
        return f"{self.what}\n  How to fix: {self.fix}" if self.fix else self.what
