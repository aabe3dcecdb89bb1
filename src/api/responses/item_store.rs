//! Output items the gateway remembers so clients may refer to them by id (`item_reference`),
//! as the AI SDK's Responses provider does with its default `store: true`, and response records
//! (a request's input and its output) so a request may continue from one (`previous_response_id`).
//!
//! The shell keeps them in Envoy's shared data, which has no delete: a fixed ring of slots keeps
//! memory bounded. An item goes to slot `hash(id) mod slots`, overwriting whatever was there; a
//! slot's value names the id and the client key it belongs to, so a lookup never returns another
//! item or another key's item. Keying and encoding live here so they are tested natively.

use crate::config::ItemStore;
use crate::error::ApiError;
use crate::stable_hash::stable_hash;
use serde_json::{json, Value};

/// Shared-data key prefix of every slot.
pub const KEY_PREFIX: &str = "bedrock_items/";

/// Reads a slot by its key (the shell's shared-data get).
pub type SlotReader<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;
/// An owned [`SlotReader`], as the shell hands it to each exchange.
pub type SlotSource = Box<dyn Fn(&str) -> Option<Vec<u8>>>;

/// The shared-data key of the slot for `id`.
pub fn slot_key(id: &str, slots: u32) -> String {
    let slot = stable_hash(id.as_bytes())
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
            slot_write(id, item, owner, store)
        })
        .collect()
}

/// The slot write (key, value) that remembers `value` under `id`; `None` when its JSON is over
/// the size limit or the id cannot be encoded.
fn slot_write(
    id: &str,
    value: &Value,
    owner: &str,
    store: &ItemStore,
) -> Option<(String, Vec<u8>)> {
    let json = serde_json::to_vec(value).ok()?;
    if json.len() > store.max_item_bytes {
        return None;
    }
    Some((slot_key(id, store.slots), encode(id, owner, &json)?))
}

/// Slot writes for a completed answer: its output items, and its response record when `turn`
/// is given.
pub fn slots_for_answer(
    output: &[Value],
    turn: Option<&Turn>,
    owner: &str,
    store: &ItemStore,
) -> Vec<(String, Vec<u8>)> {
    let mut writes = slots_for(output, owner, store);
    writes.extend(turn.and_then(|turn| record_slot(turn, output, owner, store)));
    writes
}

/// Slot writes for a complete `response` object (the JSON answer); none for anything else.
pub fn slots_for_response(
    response: &[u8],
    turn: Option<&Turn>,
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
        Some(output) => slots_for_answer(output, turn, owner, store),
        None => Vec::new(),
    }
}

/// The remembered item `id` of `owner`, if its slot still holds it.
pub fn recall(read: SlotReader<'_>, store: &ItemStore, owner: &str, id: &str) -> Option<Value> {
    let stored = read(&slot_key(id, store.slots))?;
    decode(&stored, id, owner)
}

/// Most responses a `previous_response_id` chain is followed back through.
pub const MAX_CHAIN: usize = 256;

/// What a completed Responses answer is remembered with so that a later request can continue
/// from it by `previous_response_id`: this request's own input (references resolved), and the
/// response it continued from. Instructions and tools are not kept: OpenAI does not carry them over.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub response_id: String,
    pub previous_response_id: Option<String>,
    pub input: Vec<Value>,
}

/// The slot write for the response record of `turn` with its `output`; `None` when over the
/// size limit (the response then cannot be continued from).
pub fn record_slot(
    turn: &Turn,
    output: &[Value],
    owner: &str,
    store: &ItemStore,
) -> Option<(String, Vec<u8>)> {
    let record = json!({
        "id": turn.response_id,
        "previous_response_id": turn.previous_response_id,
        "input": turn.input,
        "output": output,
    });
    slot_write(&turn.response_id, &record, owner, store)
}

/// The conversation a request continues with `previous_response_id`: every remembered
/// response's input then output, oldest first. Follows at most [`MAX_CHAIN`] responses and stops
/// at a loop; any response it cannot find is a 400.
pub fn history(
    recall: &dyn Fn(&str) -> Option<Value>,
    previous: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut records = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut next = Some(previous.to_string());
    while let Some(id) = next.take() {
        if records.len() >= MAX_CHAIN || !seen.insert(id.clone()) {
            break;
        }
        let record = recall(&id).ok_or_else(|| response_not_found(&id))?;
        let (Some(input), Some(output)) = (
            record.get("input").and_then(Value::as_array),
            record.get("output").and_then(Value::as_array),
        ) else {
            return Err(response_not_found(&id));
        };
        next = record
            .get("previous_response_id")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        records.push((input.clone(), output.clone()));
    }
    Ok(records
        .into_iter()
        .rev()
        .flat_map(|(input, output)| input.into_iter().chain(output))
        .collect())
}

fn response_not_found(id: &str) -> ApiError {
    ApiError::invalid_param(
        "previous_response_id",
        format!(
            "previous_response_id: response '{id}' not found. This gateway keeps recent \
             responses only in this Envoy instance's memory; send the full input instead."
        ),
    )
    .with_code("previous_response_not_found")
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
        assert_eq!(slots_for_response(&bytes, None, "", &cfg).len(), 1);
        let error = json!({"error": {"message": "bad"}})
            .to_string()
            .into_bytes();
        assert!(slots_for_response(&error, None, "", &cfg).is_empty());
        assert!(slots_for_response(b"garbage", None, "", &cfg).is_empty());
    }

    fn user(text: &str) -> Value {
        json!({"role": "user", "content": text})
    }

    fn turn(id: &str, previous: Option<&str>, text: &str) -> Turn {
        Turn {
            response_id: id.into(),
            previous_response_id: previous.map(str::to_string),
            input: vec![user(text)],
        }
    }

    /// Remembers `turn` answered with one message, as the exchange does.
    fn answer(slots: &Slots, cfg: &ItemStore, owner: &str, turn: &Turn, text: &str) -> Value {
        let item = message(&format!("msg_{}_0", turn.response_id), text);
        slots.write(slots_for_answer(
            std::slice::from_ref(&item),
            Some(turn),
            owner,
            cfg,
        ));
        item
    }

    #[test]
    fn a_chain_of_responses_comes_back_oldest_first() {
        let (slots, cfg) = (Slots::default(), store(1024, 16384));
        let a1 = answer(&slots, &cfg, "k", &turn("resp_1", None, "one"), "A1");
        let a2 = answer(
            &slots,
            &cfg,
            "k",
            &turn("resp_2", Some("resp_1"), "two"),
            "A2",
        );
        let a3 = answer(
            &slots,
            &cfg,
            "k",
            &turn("resp_3", Some("resp_2"), "three"),
            "A3",
        );
        let recall = |id: &str| recall(&|k: &str| slots.read(k), &cfg, "k", id);
        assert_eq!(
            history(&recall, "resp_3").unwrap(),
            vec![user("one"), a1.clone(), user("two"), a2, user("three"), a3]
        );
        assert_eq!(history(&recall, "resp_1").unwrap(), vec![user("one"), a1]);
        // The output items stay referable on their own too.
        assert!(recall("msg_resp_2_0").is_some());
    }

    #[test]
    fn a_missing_link_or_another_keys_response_is_a_400() {
        let (slots, cfg) = (Slots::default(), store(1024, 16384));
        answer(&slots, &cfg, "k", &turn("resp_1", None, "one"), "A1");
        // resp_2 was never remembered (over the limit, overwritten, other instance...).
        answer(
            &slots,
            &cfg,
            "k",
            &turn("resp_3", Some("resp_2"), "three"),
            "A3",
        );
        let read = |k: &str| slots.read(k);
        for (owner, id, missing) in [("k", "resp_3", "resp_2"), ("other", "resp_1", "resp_1")] {
            let recall = |id: &str| recall(&read, &cfg, owner, id);
            let err = history(&recall, id).unwrap_err();
            assert_eq!(err.status, 400);
            assert_eq!(err.param.as_deref(), Some("previous_response_id"));
            assert_eq!(err.code.as_deref(), Some("previous_response_not_found"));
            assert!(
                err.message.contains(&format!("'{missing}'")),
                "{}",
                err.message
            );
            assert!(
                err.message.contains("send the full input"),
                "{}",
                err.message
            );
        }
        // An output item is not a response.
        let recall = |id: &str| recall(&read, &cfg, "k", id);
        assert!(history(&recall, "msg_resp_1_0").is_err());
    }

    #[test]
    fn a_loop_in_the_chain_stops_the_walk() {
        let (slots, cfg) = (Slots::default(), store(1024, 16384));
        let a = answer(&slots, &cfg, "", &turn("resp_a", Some("resp_b"), "a"), "A");
        let b = answer(&slots, &cfg, "", &turn("resp_b", Some("resp_a"), "b"), "B");
        let recall = |id: &str| recall(&|k: &str| slots.read(k), &cfg, "", id);
        assert_eq!(
            history(&recall, "resp_b").unwrap(),
            vec![user("a"), a, user("b"), b]
        );
        // A chain longer than MAX_CHAIN keeps the most recent responses.
        let long = |id: &str| {
            let n: usize = id.strip_prefix("resp_").unwrap().parse().unwrap();
            Some(
                json!({"id": id, "previous_response_id": format!("resp_{}", n + 1),
                        "input": [user(&n.to_string())], "output": []}),
            )
        };
        let got = history(&long, "resp_0").unwrap();
        assert_eq!(got.len(), MAX_CHAIN);
        assert_eq!(got.last(), Some(&user("0")));
    }

    #[test]
    fn a_response_record_over_the_limit_is_not_stored() {
        let cfg = store(1024, 300);
        let small = turn("resp_s", None, "short");
        let big = turn("resp_b", None, &"x".repeat(400));
        let item = message("msg_1", "hi");
        assert!(record_slot(&small, std::slice::from_ref(&item), "", &cfg).is_some());
        assert!(record_slot(&big, std::slice::from_ref(&item), "", &cfg).is_none());
        // The output items are still remembered.
        assert_eq!(slots_for_answer(&[item], Some(&big), "", &cfg).len(), 1);
    }
}
