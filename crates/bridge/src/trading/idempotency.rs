//! What makes two order requests the same: the fingerprint an `Idempotency-Key` is bound to.

use serde_json::Value;
use uuid::Uuid;

/// The method and route template of an order action: part of its Idempotency-Key fingerprint.
pub fn action_route(action: &str) -> &'static str {
    match action {
        "place" => "POST /api/v1/orders",
        "modify_order" => "PUT /api/v1/orders/{ticket}",
        "cancel_order" => "DELETE /api/v1/orders/{ticket}",
        "modify_position" => "PUT /api/v1/positions/{ticket}",
        "close_position" => "POST /api/v1/positions/{ticket}/close",
        _ => "other",
    }
}

/// What an Idempotency-Key is bound to: SHA-256 over the method and route template, the resolved
/// account and the request as the journal stores it (64 hex characters). The same key sent with
/// another `X-Account-Id`, to another route or with another body is not a retry.
pub fn request_fingerprint(action: &str, account_id: Uuid, request: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        action_route(action).as_bytes(),
        b"\n",
        account_id.as_bytes(),
        b"\n",
        request.to_string().as_bytes(),
    ] {
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `stored` (a journal entry's fingerprint) is this request's. Entries written before
/// fingerprints carry the old 16-hex FNV-1a of the request alone and are compared that way, so a
/// retry across the upgrade still replays.
pub(super) fn same_request(stored: Option<&str>, fingerprint: &str, request: &Value) -> bool {
    match stored {
        Some(old) if old.len() == 16 => old == request_hash(request),
        Some(s) => s == fingerprint,
        None => false,
    }
}

/// FNV-1a of the canonical request: the journal's request hash before fingerprints, still the
/// seed of algorithms' magic numbers (which must not change under open positions).
pub fn request_hash(v: &Value) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in v.to_string().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}
