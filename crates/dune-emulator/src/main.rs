//! `dune-emulator`: serves the Dune API v1 on 127.0.0.1 until stopped.

use dune_emulator::catalog::{Catalog, DEFAULT_DATA};
use dune_emulator::{Emulator, Settings};
use std::io::Write;

const USAGE: &str = "usage: dune-emulator [--port N] [--port-file FILE] [--data FILE] [--api-key KEY]... [--any-key]
                     [--pending-ms N] [--execution-ms N] [--max-datapoints N] [--page-cache-mb N]
                     [--latency-ms N] [--bandwidth-mbps N]


Serves the Dune API v1 at http://127.0.0.1:<port>/api (port 0, the default, picks a free one).
Prints `listening on http://127.0.0.1:<port>/api` once ready. The default key is `emulator-key`.
--latency-ms and --bandwidth-mbps emulate a network: a delay before the first byte of every
answer, and bodies paced to a bandwidth (each connection on its own); POST /_emulator/settings
with latency_ms and bandwidth_mbps changes them at run time.";

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    let mut port_file = None;
    let mut data = None;
    let mut settings = Settings::default();
    let mut keys = Vec::new();
    let fail = |msg: String| -> ! {
        eprintln!("dune-emulator: {msg}\n{USAGE}");
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| fail(format!("{name} needs a value")))
        };
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .unwrap_or_else(|_| fail(format!("{name}: not a number: {v}")))
        };
        match a.as_str() {
            "--port" => port = number("--port", value("--port")) as u16,
            "--port-file" => port_file = Some(value("--port-file")),
            "--data" => data = Some(value("--data")),
            "--api-key" => keys.push(value("--api-key")),
            "--any-key" => settings.any_key = true,
            "--pending-ms" => settings.pending_ms = number(&a, value(&a)),
            "--execution-ms" => settings.execution_ms = number(&a, value(&a)),
            "--max-datapoints" => settings.max_datapoints = number(&a, value(&a)),
            "--latency-ms" => settings.latency_ms = number(&a, value(&a)),
            "--bandwidth-mbps" => settings.bandwidth_mbps = number(&a, value(&a)),
            "--page-cache-mb" => {
                settings.page_cache_bytes = number(&a, value(&a)) as usize * 1024 * 1024
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => fail(format!("unknown argument {other}")),
        }
    }
    if !keys.is_empty() {
        settings.api_keys = keys;
    }
    let text = match &data {
        Some(path) => {
            std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("{path}: {e}")))
        }
        None => DEFAULT_DATA.to_string(),
    };
    let catalog = Catalog::parse(&text).unwrap_or_else(|e| fail(e));
    let emulator = Emulator::start(port, catalog, settings)
        .unwrap_or_else(|e| fail(format!("cannot listen: {e}")));
    if let Some(path) = port_file {
        std::fs::write(&path, emulator.port().to_string())
            .unwrap_or_else(|e| fail(format!("{path}: {e}")));
    }
    println!("listening on {}", emulator.api_url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
