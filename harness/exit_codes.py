"""Exit codes of the ``splitbrain`` command (DESIGN.md) and how verdicts map onto them."""

VALID = 0
INVALID = 1
UNKNOWN = 2
HARNESS_ERROR = 3
BAD_INPUT = 254

# Ordering for "the worst code" when several results are combined: bad input and harness
# errors first, then a found violation, then an inconclusive check.
_SEVERITY = {VALID: 0, UNKNOWN: 1, INVALID: 2, HARNESS_ERROR: 3, BAD_INPUT: 4}


def for_verdict(valid) -> int:
    """Map a checker's ``valid`` value (True, False or "unknown") to an exit code."""
    if valid is True:
        return VALID
    if valid is False:
        return INVALID
    return UNKNOWN


def verdict_word(valid) -> str:
    """``valid``, ``invalid`` or ``unknown``: the word printed for a verdict."""
    return {True: "valid", False: "invalid"}.get(valid, "unknown")


def worst(codes) -> int:
    """The most severe of several exit codes (VALID when there are none)."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 3), default=VALID)
