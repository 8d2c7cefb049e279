//! The local LLM's speed on this machine: how long the model takes to read, how fast it reads a prompt and
//! how fast it writes. Prints the figures; there is no target (the machine decides).
//!
//! `cargo bench -p dp-runtime --bench local_llm` (needs `just models`; `DP_LLM_MODEL_DIR` picks another
//! folder). candle's threads: `CANDLE_NUM_THREADS`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use dp_runtime::llm::ChatRequest;
use dp_runtime::llm::local::LocalLlm;

const PROMPT: &str = "Write a long story about a team that finds out why its cloud bill doubled in November. \
                      Name every service they check, and what each one cost.";

fn main() -> anyhow::Result<()> {
    let dir = std::env::var_os("DP_LLM_MODEL_DIR").map_or_else(
        || {
            std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../data/models/SmolLM2-135M-Instruct"
            ))
        },
        std::path::PathBuf::from,
    );
    let llm = LocalLlm::new(dir);
    let started = Instant::now();
    llm.load_blocking()?;
    let load = started.elapsed();

    let stop = AtomicBool::new(false);
    let run = |max_tokens: u32| -> anyhow::Result<(Duration, u64, u64)> {
        let request = ChatRequest {
            model: String::new(),
            system: None,
            prompt: PROMPT.to_owned(),
            json: false,
            temperature: None,
            max_tokens: Some(max_tokens),
        };
        let started = Instant::now();
        let answer = llm.chat_blocking(&request, &stop)?;
        Ok((started.elapsed(), answer.usage.prompt, answer.usage.completion))
    };
    // The first completion warms caches and threads; not counted.
    run(4)?;
    let (prompt_time, prompt_tokens, _) = run(1)?;
    let (whole, _, written) = run(128)?;
    let writing = whole.saturating_sub(prompt_time);
    println!("local LLM: read in {:.2} s", load.as_secs_f64());
    println!(
        "local LLM: prompt of {prompt_tokens} tokens read in {:.0} ms ({:.0} tokens/s)",
        prompt_time.as_secs_f64() * 1e3,
        prompt_tokens as f64 / prompt_time.as_secs_f64()
    );
    println!(
        "local LLM: {written} tokens written in {:.2} s after it ({:.1} tokens/s)",
        writing.as_secs_f64(),
        written.saturating_sub(1) as f64 / writing.as_secs_f64()
    );
    let figures = serde_json::json!([
        {"name": "dp-runtime/local_llm_load", "value": load.as_secs_f64(), "unit": "s", "target": "", "pass": null,
         "baseline": "SmolLM2-135M-Instruct, Q4_1 read as Q8_0"},
        {"name": "dp-runtime/local_llm_write_rate", "value": written.saturating_sub(1) as f64 / writing.as_secs_f64(),
         "unit": "tokens/s", "target": "", "pass": null,
         "baseline": format!("prompt read at {:.0} tokens/s", prompt_tokens as f64 / prompt_time.as_secs_f64())},
    ]);
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../bench");
    let saved = std::fs::create_dir_all(&out).and_then(|()| {
        std::fs::write(
            out.join("dp-local-llm.json"),
            serde_json::to_string_pretty(&figures).unwrap_or_default(),
        )
    });
    if let Err(error) = saved {
        eprintln!("cannot write the figures: {error}");
    }
    Ok(())
}
