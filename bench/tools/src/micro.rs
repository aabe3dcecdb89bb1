//! Micro-benchmarks of the translation core, the same code the .wasm runs, timed natively.
//! Each prints one JSON line: {"name", "ns", "per"}.

use crate::args::Args;
use bedrock_access_filter::config::Config;
use bedrock_access_filter::exchange::{Exchange, Host, RequestHead};
use bedrock_access_filter::step::Step;
use bedrock_access_filter::jobs::models::ModelCache;
use bedrock_access_filter::upstream::sign::{self, SignInput};
use bedrock_access_filter::api::chat::stream::ChatStream;
use bedrock_access_filter::api::{chat, AnswerTranslator, RequestContext, Translated};
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

const CLIENT_KEY: &str = "bench-key";

fn config() -> Result<Config, String> {
    let env = |name: &str| {
        let value = match name {
            "API_KEY" => CLIENT_KEY,
            "AWS_ACCESS_KEY_ID" => "AKIDBENCHMARKKEY",
            "AWS_SECRET_ACCESS_KEY" => "benchmark-secret-not-a-real-key",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" => "http://127.0.0.1:9",
            _ => return None,
        };
        Some(value.to_string())
    };
    Config::load(b"{}", &env)
}

/// No quotas are configured here, so shared data is never read.
struct NoSharedData;

impl bedrock_access_filter::policy::SharedStore for NoSharedData {
    fn get(&self, _key: &str) -> Option<(Vec<u8>, u32)> {
        None
    }
    fn set(&self, _key: &str, _value: &[u8], _cas: u32) -> bool {
        true
    }
}

fn translate_chat(config: &Config, body: &[u8]) -> Result<Translated, String> {
    let ctx = RequestContext {
        config,
        request_id: "0123456789abcdef0123456789abcdef",
        now: SystemTime::now(),
        recall_item: None,
        key_name: None,
        capability_model: &bedrock_access_filter::api::same_model,
    };
    chat::translate(body, &ctx).map_err(|e| String::from_utf8_lossy(&e.to_body()).into_owned())
}

/// Median nanoseconds per call of `op` over batches of about 10 ms, for about `budget`.
fn time_per_call(budget: Duration, mut op: impl FnMut()) -> f64 {
    let mut batch: u32 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            op();
        }
        if t.elapsed() >= Duration::from_millis(10) || batch >= 1 << 24 {
            break;
        }
        batch = batch.saturating_mul(2);
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || samples.len() < 5 {
        let t = Instant::now();
        for _ in 0..batch {
            op();
        }
        samples.push(t.elapsed().as_nanos() as f64 / f64::from(batch));
    }
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(name: &str, ns: f64, per: &str) {
    println!(
        "{}",
        serde_json::json!({"name": name, "ns": (ns * 10.0).round() / 10.0, "per": per})
    );
}

/// One stream translated from the first byte to `[DONE]`, fed in pieces of `piece` bytes.
fn translate_stream(events: &[u8], piece: usize) -> usize {
    let mut stream = ChatStream::new(
        "chatcmpl-0123456789abcdef".into(),
        "anthropic.claude-3-haiku-20240307-v1:0".into(),
        1_700_000_000,
        true,
    );
    let mut out = 0;
    for part in events.chunks(piece) {
        out += black_box(stream.push(part)).len();
    }
    out + stream.finish().len()
}

pub fn run(args: &Args) -> Result<(), String> {
    let dir = std::path::Path::new(args.required("data")?);
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let budget = Duration::from_millis(args.number("millis", 600)?);
    let config = config()?;
    let chat_body = read("chat.json")?;
    let stream_body = read("chat-stream.json")?;
    let answer = read("converse-response.json")?;

    // Request: OpenAI JSON → Converse JSON (parse, normalise, serialise).
    translate_chat(&config, &chat_body)?;
    report(
        "request: OpenAI chat → Converse",
        time_per_call(budget, || {
            black_box(translate_chat(&config, black_box(&chat_body)).ok());
        }),
        "request",
    );

    // Everything the filter does for a request: authenticate, translate, SigV4-sign.
    let authorization = format!("Bearer {CLIENT_KEY}");
    let full_request = || -> Result<Exchange, String> {
        let mut exchange = Exchange::default();
        let head = RequestHead {
            method: "POST",
            path: "/v1/chat/completions",
            authorization: Some(&authorization),
            request_id: Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            header_names: vec![
                ":method".into(),
                ":path".into(),
                "authorization".into(),
                "content-type".into(),
            ],
            ..Default::default()
        };
        let models = std::cell::RefCell::new(ModelCache::default());
        let host = Host {
            now: &SystemTime::now,
            models: &models,
            shared: &NoSharedData,
        };
        match exchange.on_request_headers(&config, &head, false, &host) {
            Step::Pause => {}
            _ => return Err("request headers were not accepted".into()),
        }
        let read = || chat_body.clone();
        match exchange.on_request_body(&config, chat_body.len(), true, &read, &host) {
            Step::Forward(_) => Ok(exchange),
            Step::Respond(r) => Err(String::from_utf8_lossy(&r.body).into_owned()),
            _ => Err("the request was not forwarded".into()),
        }
    };
    full_request()?;
    report(
        "request: auth + translate + SigV4 (Exchange)",
        time_per_call(budget, || {
            black_box(full_request().ok());
        }),
        "request",
    );

    let translated = translate_chat(&config, &chat_body)?;
    let now = SystemTime::now();
    let input = SignInput {
        method: "POST",
        host: &config.runtime_host,
        path: &translated.path,
        content_type: "application/json",
        body: &translated.body,
        region: &config.region,
        service: "bedrock",
        now,
    };
    report(
        "request: SigV4 signature alone",
        time_per_call(budget, || {
            black_box(sign::authorize(&config.upstream_auth, black_box(&input)).ok());
        }),
        "request",
    );

    // Response: Converse JSON → chat.completion JSON.
    let AnswerTranslator::Json(reply) = translated.answer else {
        return Err("chat.json should not stream".into());
    };
    reply.translate(&answer).map_err(|e| e.message.clone())?;
    report(
        "response: Converse → chat.completion",
        time_per_call(budget, || {
            black_box(reply.translate(black_box(&answer)).ok());
        }),
        "response",
    );

    // The streamed request's own translation, to show it costs the same.
    translate_chat(&config, &stream_body)?;

    // Stream: event-stream frames → SSE chunks, per delta, for short and long streams and for
    // Envoy-sized reads (16 KiB) as well as tiny pieces that split every frame.
    for (deltas, piece) in [(100usize, 16384usize), (10_000, 16384), (100, 64), (10_000, 64)] {
        let events = read(&format!("stream-{deltas}.bin"))?;
        let sse = {
            let mut stream = ChatStream::new("id".into(), "m".into(), 0, true);
            let mut out = Vec::new();
            for part in events.chunks(piece) {
                out.extend(stream.push(part));
            }
            out.extend(stream.finish());
            String::from_utf8_lossy(&out).into_owned()
        };
        // Every generated delta starts with a space; the role chunk's content is empty.
        let chunks = sse.matches("\"content\":\" ").count();
        if chunks != deltas || !sse.ends_with("data: [DONE]\n\n") {
            return Err(format!(
                "stream-{deltas}: {chunks} content chunks, expected {deltas} and [DONE]"
            ));
        }
        let ns = time_per_call(budget, || {
            black_box(translate_stream(black_box(&events), piece));
        });
        report(
            &format!("stream: {deltas} deltas in {piece}-byte reads"),
            ns / deltas as f64,
            "delta",
        );
    }
    Ok(())
}

/// Writes the Converse body the filter sends for `--body` to `--out`; prints the path.
pub fn translate(args: &Args) -> Result<(), String> {
    let config = config()?;
    let translated = translate_chat(&config, &args.file("body")?)?;
    let out = args.required("out")?;
    std::fs::write(out, &translated.body).map_err(|e| format!("{out}: {e}"))?;
    println!("{}", translated.path);
    Ok(())
}
