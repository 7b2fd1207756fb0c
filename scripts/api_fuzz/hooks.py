"""The API document's promise, as a schemathesis check: input the document calls valid is never
refused as invalid. A `400`, or a `422 validation_failed`, to a request generated from the schema
(positive mode) is a failure. Business refusals (`trade_rejected`, `mt5_login_failed`, `404`s for
ids that do not exist, `429`, ...) are right answers to valid input and pass.

One exception: `cursor` is an opaque token the service issues (`next_cursor`); any other string is
refused naming `cursor`, and no schema can say which strings the service issued. A history cursor's
form is documented (pattern and length), so one generated from the document is well formed: its
refusal must not be for the form (`FORM_REFUSAL`), only for not being one the service issued.
"""

import json

import schemathesis


def _tolerate_spurious_ast_errors():
    """CPython 3.11 before 3.11.8 can raise a spurious `SystemError: AST constructor recursion
    depth mismatch` from `ast.parse` (CPython gh-106905) when Hypothesis describes a lambda for its
    own reports; the description is cosmetic, so a failure there falls back to the lambda's repr
    instead of ending the run with a runtime error that says nothing about the service."""
    try:
        from hypothesis.internal import lambda_sources
    except ImportError:
        return
    describe = lambda_sources.lambda_description

    def lambda_description(f):
        try:
            return describe(f)
        except SystemError:
            return repr(f)

    lambda_sources.lambda_description = lambda_description


_tolerate_spurious_ast_errors()

# The start of the message a history cursor of another form than the documented one gets
# (`http/history_cursor.rs`).
FORM_REFUSAL = "must be 148 to 200 characters"


@schemathesis.check
def valid_input_is_not_refused(ctx, response, case):
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status == 400:
        raise AssertionError(f"schema-valid request refused with 400: {response.text[:300]}")
    if status != 422:
        return None
    try:
        error = json.loads(response.text)["error"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"422 outside the error envelope: {response.text[:300]}")
    if error.get("code") != "validation_failed":
        return None
    faults = (error.get("details") or {}).get("fields", [])
    fields = [f.get("field") for f in faults]
    if fields and all(f == "cursor" for f in fields):
        if any(str(f.get("message", "")).startswith(FORM_REFUSAL) for f in faults):
            raise AssertionError(f"a cursor of the documented form refused for its form: {error}")
        return None
    raise AssertionError(f"schema-valid request refused as invalid: {fields}: {error.get('message')}")
