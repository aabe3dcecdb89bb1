//! Envoy counters for the stats the core names, defined once per VM and shared by all streams.

use super::host;
use crate::observability::{Recorder, Summary};
use std::collections::HashMap;

#[derive(Default)]
pub struct Metrics {
    recorder: Recorder,
    ids: HashMap<String, u32>,
}

impl Metrics {
    pub fn record(&mut self, summary: &Summary) {
        for (name, by) in self.recorder.counters(summary) {
            let id = match self.ids.get(&name) {
                Some(id) => Some(*id),
                None => host::define_counter(&name).inspect(|id| {
                    self.ids.insert(name.clone(), *id);
                }),
            };
            // Envoy refuses a zero increment; the counter still exists and reads 0.
            if let (Some(id), true) = (id, by > 0) {
                host::increment_counter(id, by);
            }
        }
    }
}
