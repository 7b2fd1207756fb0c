"""The API document's promise, as a schemathesis check: input the document calls valid is never
refused as invalid. A `400`, or a `422 validation_failed`, to a request generated from the schema
(positive mode) is a failure. Business refusals (`trade_rejected`, `mt5_login_failed`, `404`s for
ids that do not exist, `429`, ...) are right answers to valid input and pass.

One exception: `cursor` is an opaque token the service issues (`next_cursor`); any other string is
refused naming `cursor`, and no schema can say which strings the service issued.
"""

import json

import schemathesis


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
    fields = [f.get("field") for f in (error.get("details") or {}).get("fields", [])]
    if fields and all(f == "cursor" for f in fields):
        return None
    raise AssertionError(f"schema-valid request refused as invalid: {fields}: {error.get('message')}")
