//! Benchmark tools driven by bench/run.py:
//!   micro      times the translation core natively (request, response, stream per delta, signing)
//!   translate  writes the Converse request the filter would send, for the passthrough baseline
//!   stream     sequential streaming requests: time to first body chunk and total time
//!   hold       many concurrent streams held open, to measure memory under load

mod args;
mod client;
mod micro;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match argv.split_first() {
        Some((c, rest)) => (c.as_str(), args::Args::parse(rest)),
        None => ("", Ok(args::Args::default())),
    };
    let result = rest.and_then(|a| match command {
        "micro" => micro::run(&a),
        "translate" => micro::translate(&a),
        "stream" => client::stream(&a),
        "hold" => client::hold(&a),
        _ => Err("usage: bench-tools micro|translate|stream|hold [--flag value]...".into()),
    });
    if let Err(e) = result {
        eprintln!("bench-tools {command}: {e}");
        std::process::exit(1);
    }
}
