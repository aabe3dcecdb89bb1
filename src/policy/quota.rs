//! Token and request quotas per client key, counted across every worker of one Envoy in
//! shared data with compare-and-swap (no lost updates). A request is admitted while the key's
//! budgets are not spent: requests per minute are exact (each admission is one CAS increment);
//! tokens are charged from Bedrock's usage when the answer ends, so requests already in flight
//! when a token budget runs out can overshoot it by their own tokens. Tokens are input (cache
//! reads and writes included) plus output. Counters live in one slot per key and window kind,
//! rolled over in place, so shared data does not grow with time.

use super::SharedStore;
use crate::error::ApiError;
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// Attempts at one compare-and-swap before giving up (each loses only to another worker's
/// successful write, so this bounds contention, not correctness).
const CAS_ATTEMPTS: usize = 32;
const MINUTE: u64 = 60;
const DAY: u64 = 86_400;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    #[serde(default)]
    pub tokens_per_day: Option<u64>,
}

impl Quota {
    pub fn is_unlimited(&self) -> bool {
        self.requests_per_minute.is_none()
            && self.tokens_per_minute.is_none()
            && self.tokens_per_day.is_none()
    }
}

/// One window's counters: `index` is the minute or day number since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Window {
    index: u64,
    requests: u64,
    tokens: u64,
}

impl Window {
    fn decode(bytes: &[u8], index: u64) -> Window {
        let text = String::from_utf8_lossy(bytes);
        let mut parts = text.split(' ').map(|p| p.parse::<u64>().unwrap_or(0));
        let stored = Window {
            index: parts.next().unwrap_or(0),
            requests: parts.next().unwrap_or(0),
            tokens: parts.next().unwrap_or(0),
        };
        if stored.index == index {
            stored
        } else {
            Window {
                index,
                ..Window::default()
            }
        }
    }

    fn encode(&self) -> Vec<u8> {
        format!("{} {} {}", self.index, self.requests, self.tokens).into_bytes()
    }
}

fn slot(key_name: &str, kind: &str) -> String {
    format!("bedrock_quota/{kind}/{key_name}")
}

fn seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where a key stands after its request was admitted, for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    quota: Quota,
    requests: u64,
    minute_tokens: u64,
    day_tokens: u64,
    /// Seconds to the next minute and the next day.
    minute_reset: u64,
    day_reset: u64,
}

/// Reads a window (rolled over when its period passed) with its version.
fn read(store: &dyn SharedStore, key: &str, index: u64) -> (Window, u32) {
    match store.get(key) {
        Some((bytes, cas)) => (Window::decode(&bytes, index), cas),
        None => (
            Window {
                index,
                ..Window::default()
            },
            0,
        ),
    }
}

/// Creates the key's slots if they do not exist yet (at VM start, before traffic: shared
/// data cannot create a value under compare-and-swap).
pub fn prepare(store: &dyn SharedStore, key_name: &str) {
    for kind in ["minute", "day"] {
        let key = slot(key_name, kind);
        if store.get(&key).is_none() {
            store.set(&key, &Window::default().encode(), 0);
        }
    }
}

/// Creates the slots of these keys (see `prepare`).
pub fn prepare_keys(key_names: &[&str], store: &dyn SharedStore) {
    for name in key_names {
        prepare(store, name);
    }
}

/// Admits one request for `key_name` when its budgets allow it (counting it), or refuses
/// it with a 429 saying when to retry.
pub fn admit(
    store: &dyn SharedStore,
    key_name: &str,
    quota: &Quota,
    now: SystemTime,
) -> Result<Standing, ApiError> {
    let secs = seconds(now);
    let (minute_index, day_index) = (secs / MINUTE, secs / DAY);
    let minute_reset = MINUTE.saturating_sub(secs % MINUTE);
    let day_reset = DAY.saturating_sub(secs % DAY);
    let minute_key = slot(key_name, "minute");
    for _ in 0..CAS_ATTEMPTS {
        let (mut minute, cas) = read(store, &minute_key, minute_index);
        let (day, _) = read(store, &slot(key_name, "day"), day_index);
        let spent = |limit: Option<u64>, used: u64| limit.is_some_and(|l| used >= l);
        if spent(quota.requests_per_minute, minute.requests) {
            return Err(refusal("requests per minute", minute_reset));
        }
        if spent(quota.tokens_per_minute, minute.tokens) {
            return Err(refusal("tokens per minute", minute_reset));
        }
        if spent(quota.tokens_per_day, day.tokens) {
            return Err(refusal("tokens per day", day_reset));
        }
        minute.requests = minute.requests.saturating_add(1);
        if store.set(&minute_key, &minute.encode(), cas) {
            return Ok(Standing {
                quota: *quota,
                requests: minute.requests,
                minute_tokens: minute.tokens,
                day_tokens: day.tokens,
                minute_reset,
                day_reset,
            });
        }
    }
    Err(refusal("requests per minute (busy)", 1))
}

/// Adds the tokens an answer used to the key's minute and day.
pub fn charge(store: &dyn SharedStore, key_name: &str, tokens: u64, now: SystemTime) {
    if tokens == 0 {
        return;
    }
    let secs = seconds(now);
    for (kind, index) in [("minute", secs / MINUTE), ("day", secs / DAY)] {
        let key = slot(key_name, kind);
        for _ in 0..CAS_ATTEMPTS {
            let (mut window, cas) = read(store, &key, index);
            window.tokens = window.tokens.saturating_add(tokens);
            if store.set(&key, &window.encode(), cas) {
                break;
            }
        }
    }
}

fn refusal(budget: &str, retry_after: u64) -> ApiError {
    ApiError::new(
        429,
        "rate_limit_error",
        format!("Quota exceeded for this API key ({budget}); retry in {retry_after}s."),
    )
    .with_code("rate_limit_exceeded")
    .with_retry_after(retry_after)
}

impl Standing {
    /// OpenAI's `x-ratelimit-*` headers for the key (tokens: the per-minute budget, else the
    /// daily one).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(limit) = self.quota.requests_per_minute {
            out.push(("x-ratelimit-limit-requests".into(), limit.to_string()));
            out.push((
                "x-ratelimit-remaining-requests".into(),
                limit.saturating_sub(self.requests).to_string(),
            ));
            out.push((
                "x-ratelimit-reset-requests".into(),
                format!("{}s", self.minute_reset),
            ));
        }
        let tokens = match (self.quota.tokens_per_minute, self.quota.tokens_per_day) {
            (Some(limit), _) => Some((limit, self.minute_tokens, self.minute_reset)),
            (None, Some(limit)) => Some((limit, self.day_tokens, self.day_reset)),
            (None, None) => None,
        };
        if let Some((limit, used, reset)) = tokens {
            out.push(("x-ratelimit-limit-tokens".into(), limit.to_string()));
            out.push((
                "x-ratelimit-remaining-tokens".into(),
                limit.saturating_sub(used).to_string(),
            ));
            out.push(("x-ratelimit-reset-tokens".into(), format!("{reset}s")));
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod test_store {
    use super::SharedStore;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// Shared data as Envoy keeps it: a version per value, bumped on every write.
    #[derive(Default)]
    pub(crate) struct MapStore {
        pub(crate) values: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    }

    impl SharedStore for MapStore {
        fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
            self.values.borrow().get(key).cloned()
        }
        fn set(&self, key: &str, value: &[u8], cas: u32) -> bool {
            let mut values = self.values.borrow_mut();
            let version = values.get(key).map_or(0, |(_, v)| *v);
            if cas != 0 && cas != version {
                return false;
            }
            values.insert(key.to_string(), (value.to_vec(), version + 1));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_store::MapStore;
    use super::*;
    use std::time::Duration;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn requests_per_minute_admit_exactly_the_budget_then_reset() {
        let store = MapStore::default();
        prepare(&store, "a");
        let quota = Quota {
            requests_per_minute: Some(3),
            ..Quota::default()
        };
        for n in 1..=3u64 {
            let standing = admit(&store, "a", &quota, at(0)).unwrap();
            let headers = standing.headers();
            assert!(
                headers.contains(&("x-ratelimit-remaining-requests".into(), (3 - n).to_string()))
            );
        }
        let refused = admit(&store, "a", &quota, at(1)).unwrap_err();
        assert_eq!(
            (refused.status, refused.code.as_deref()),
            (429, Some("rate_limit_exceeded"))
        );
        assert_eq!(refused.retry_after, Some(59));
        // Another key has its own budget; the next minute starts afresh.
        assert!(admit(&store, "b", &quota, at(1)).is_ok());
        assert!(admit(&store, "a", &quota, at(60)).is_ok());
    }

    #[test]
    fn tokens_are_charged_after_the_answer_and_spent_budgets_refuse() {
        let store = MapStore::default();
        let quota = Quota {
            tokens_per_minute: Some(100),
            tokens_per_day: Some(150),
            ..Quota::default()
        };
        admit(&store, "a", &quota, at(0)).unwrap();
        charge(&store, "a", 100, at(1));
        let minute = admit(&store, "a", &quota, at(2)).unwrap_err();
        assert!(minute.message.contains("tokens per minute"));
        let standing = admit(&store, "a", &quota, at(61)).unwrap();
        assert!(standing
            .headers()
            .contains(&("x-ratelimit-remaining-tokens".into(), "100".into())));
        charge(&store, "a", 60, at(62));
        let day = admit(&store, "a", &quota, at(130)).unwrap_err();
        assert!(day.message.contains("tokens per day"));
    }

    /// A store whose first writes lose to "another worker", as under contention.
    struct Contended {
        inner: MapStore,
        losses: std::cell::Cell<u32>,
    }

    impl SharedStore for Contended {
        fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &[u8], cas: u32) -> bool {
            if self.losses.get() > 0 {
                self.losses.set(self.losses.get() - 1);
                // The other worker's write lands first.
                let (old, _) = self.inner.get(key).unwrap_or_default();
                let mut other = Window::decode(&old, 30_000_000);
                other.requests += 1;
                self.inner.set(key, &other.encode(), 0);
                return false;
            }
            self.inner.set(key, value, cas)
        }
    }

    #[test]
    fn a_lost_compare_and_swap_is_retried_without_losing_the_other_write() {
        let store = Contended {
            inner: MapStore::default(),
            losses: std::cell::Cell::new(2),
        };
        prepare(&store.inner, "a");
        let quota = Quota {
            requests_per_minute: Some(10),
            ..Quota::default()
        };
        // 1_800_000_000 / 60 = 30_000_000: the window the contending writes use.
        admit(&store, "a", &quota, at(0)).unwrap();
        let (bytes, _) = store.get("bedrock_quota/minute/a").unwrap();
        assert_eq!(Window::decode(&bytes, 30_000_000).requests, 3);
    }
}
