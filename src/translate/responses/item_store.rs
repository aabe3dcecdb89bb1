//! Output items the gateway remembers so clients may refer to them by id (`item_reference`),
//! as the AI SDK's Responses provider does with its default `store: true`.
//!
//! The shell keeps them in Envoy's shared data, which has no delete: a fixed ring of slots keeps
//! memory bounded. An item goes to slot `hash(id) mod slots`, overwriting whatever was there; a
//! slot's value names the id and the client key it belongs to, so a lookup never returns another
//! item or another key's item. Keying and encoding live here so they are tested natively.

use crate::config::ItemStore;
use serde_json::Value;

/// Shared-data key prefix of every slot.
pub const KEY_PREFIX: &str = "bedrock_items/";

/// Reads a slot by its key (the shell's shared-data get).
pub type SlotReader<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;
/// An owned [`SlotReader`], as the shell hands it to each exchange.
pub type SlotSource = Box<dyn Fn(&str) -> Option<Vec<u8>>>;

/// FNV-1a: stable across VMs and restarts of a VM, unlike std's randomly seeded hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The shared-data key of the slot for `id`.
pub fn slot_key(id: &str, slots: u32) -> String {
    let slot = fnv1a(id.as_bytes())
        .checked_rem(u64::from(slots.max(1)))
        .unwrap_or(0);
    format!("{KEY_PREFIX}{slot}")
}

/// A slot's value: id, owner (client key name, empty without client auth), then the item JSON.
/// `None` when the id or owner could not be told apart from the rest.
pub fn encode(id: &str, owner: &str, item_json: &[u8]) -> Option<Vec<u8>> {
    if id.contains('\n') || owner.contains('\n') {
        return None;
    }
    let mut value = Vec::with_capacity(
        id.len()
            .saturating_add(owner.len())
            .saturating_add(item_json.len())
            .saturating_add(2),
    );
    value.extend_from_slice(id.as_bytes());
    value.push(b'\n');
    value.extend_from_slice(owner.as_bytes());
    value.push(b'\n');
    value.extend_from_slice(item_json);
    Some(value)
}

/// The item in a slot's value if it is the one asked for and belongs to `owner`.
pub fn decode(stored: &[u8], id: &str, owner: &str) -> Option<Value> {
    let mut parts = stored.splitn(3, |b| *b == b'\n');
    let stored_id = parts.next()?;
    let stored_owner = parts.next()?;
    let json = parts.next()?;
    if stored_id != id.as_bytes() || stored_owner != owner.as_bytes() {
        return None;
    }
    let item: Value = serde_json::from_slice(json).ok()?;
    (item.get("id").and_then(Value::as_str) == Some(id)).then_some(item)
}

/// Slot writes (key, value) for a finished response's output items; items without an id or
/// larger than the configured limit are left out.
pub fn slots_for(output: &[Value], owner: &str, store: &ItemStore) -> Vec<(String, Vec<u8>)> {
    output
        .iter()
        .filter_map(|item| {
            let id = item.get("id").and_then(Value::as_str)?;
            let json = serde_json::to_vec(item).ok()?;
            if json.len() > store.max_item_bytes {
                return None;
            }
            Some((slot_key(id, store.slots), encode(id, owner, &json)?))
        })
        .collect()
}

/// Slot writes for a complete `response` object (the JSON answer); none for anything else.
pub fn slots_for_response(
    response: &[u8],
    owner: &str,
    store: &ItemStore,
) -> Vec<(String, Vec<u8>)> {
    let Ok(value) = serde_json::from_slice::<Value>(response) else {
        return Vec::new();
    };
    if value.get("object").and_then(Value::as_str) != Some("response") {
        return Vec::new();
    }
    match value.get("output").and_then(Value::as_array) {
        Some(output) => slots_for(output, owner, store),
        None => Vec::new(),
    }
}

/// The remembered item `id` of `owner`, if its slot still holds it.
pub fn recall(read: SlotReader<'_>, store: &ItemStore, owner: &str, id: &str) -> Option<Value> {
    let stored = read(&slot_key(id, store.slots))?;
    decode(&stored, id, owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;
    use std::collections::HashMap;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn store(slots: u32, max_item_bytes: usize) -> ItemStore {
        ItemStore {
            enabled: true,
            slots,
            max_item_bytes,
        }
    }

    fn message(id: &str, text: &str) -> Value {
        json!({"type": "message", "id": id, "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": []}]})
    }

    /// Shared data as the shell keeps it: one value per key, writes overwrite.
    #[derive(Default)]
    struct Slots(RefCell<HashMap<String, Vec<u8>>>);
    impl Slots {
        fn write(&self, writes: Vec<(String, Vec<u8>)>) {
            self.0.borrow_mut().extend(writes);
        }
        fn read(&self, key: &str) -> Option<Vec<u8>> {
            self.0.borrow().get(key).cloned()
        }
    }

    #[test]
    fn slot_keys_are_stable_and_within_the_ring() {
        assert_eq!(slot_key("msg_a_0", 1024), slot_key("msg_a_0", 1024));
        // FNV-1a of the empty string is its offset basis.
        assert_eq!(
            slot_key("", 1_000_000),
            format!("{KEY_PREFIX}{}", 0xcbf2_9ce4_8422_2325_u64 % 1_000_000)
        );
        for i in 0..200 {
            let key = slot_key(&format!("msg_{i}"), 16);
            let n: u32 = key.strip_prefix(KEY_PREFIX).unwrap().parse().unwrap();
            assert!(n < 16);
        }
        assert_eq!(slot_key("x", 0), format!("{KEY_PREFIX}0"));
    }

    #[test]
    fn remembered_items_come_back_for_their_id_and_owner_only() {
        let slots = Slots::default();
        let cfg = store(1024, 16384);
        let item = message("msg_r1_0", "Hello \"there\"\nsecond line");
        slots.write(slots_for(std::slice::from_ref(&item), "team-a", &cfg));
        let read = |k: &str| slots.read(k);
        assert_eq!(recall(&read, &cfg, "team-a", "msg_r1_0"), Some(item));
        assert_eq!(recall(&read, &cfg, "team-b", "msg_r1_0"), None);
        assert_eq!(recall(&read, &cfg, "team-a", "msg_r2_0"), None);
    }

    #[test]
    fn a_colliding_item_overwrites_the_slot_and_the_old_id_misses() {
        let slots = Slots::default();
        let cfg = store(1, 16384);
        let (a, b) = (message("msg_a_0", "A"), message("msg_b_0", "B"));
        slots.write(slots_for(&[a], "", &cfg));
        slots.write(slots_for(std::slice::from_ref(&b), "", &cfg));
        let read = |k: &str| slots.read(k);
        assert_eq!(recall(&read, &cfg, "", "msg_a_0"), None);
        assert_eq!(recall(&read, &cfg, "", "msg_b_0"), Some(b));
    }

    #[test]
    fn oversized_and_id_less_items_are_not_stored() {
        let small = message("msg_s_0", "short");
        let big = message("msg_b_0", &"x".repeat(500));
        let writes = slots_for(
            &[small.clone(), big, json!({"type": "message"})],
            "",
            &store(64, 200),
        );
        assert_eq!(writes.len(), 1);
        assert_eq!(decode(&writes[0].1, "msg_s_0", ""), Some(small));
    }

    #[test]
    fn values_that_do_not_match_decode_to_nothing() {
        let value = encode("msg_1", "k", br#"{"id":"msg_1","type":"message"}"#).unwrap();
        assert!(decode(&value, "msg_1", "k").is_some());
        assert_eq!(decode(&value, "msg_12", "k"), None);
        assert_eq!(decode(b"msg_1\nk\nnot json", "msg_1", "k"), None);
        assert_eq!(decode(b"msg_1", "msg_1", "k"), None);
        // The JSON must be the item the slot names.
        assert_eq!(decode(b"msg_1\nk\n{\"id\":\"msg_2\"}", "msg_1", "k"), None);
        assert_eq!(encode("a\nb", "", b"{}"), None);
    }

    #[test]
    fn only_response_objects_give_slot_writes() {
        let cfg = store(8, 16384);
        let response = json!({"object": "response", "output": [message("msg_1", "hi")]});
        let bytes = response.to_string().into_bytes();
        assert_eq!(slots_for_response(&bytes, "", &cfg).len(), 1);
        let error = json!({"error": {"message": "bad"}})
            .to_string()
            .into_bytes();
        assert!(slots_for_response(&error, "", &cfg).is_empty());
        assert!(slots_for_response(b"garbage", "", &cfg).is_empty());
    }
}
