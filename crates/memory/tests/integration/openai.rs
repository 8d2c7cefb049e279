//! The OpenAI embedder against a real HTTP server on 127.0.0.1 that speaks the embeddings API.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use memory::{Embedder as _, Error, OpenAiConfig, OpenAiEmbedder};

/// One scripted answer: status and body.
type Answer = (u16, String);

/// A server answering each request with the next scripted answer (the last repeats); it records the bodies.
struct FakeOpenAi {
    url: String,
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl FakeOpenAi {
    fn start(answers: Vec<Answer>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/v1", listener.local_addr()?);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            let mut answers = answers.into_iter().peekable();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(body) = read_request(&mut stream) else {
                    continue;
                };
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let answer = match answers.next() {
                    Some(answer) if answers.peek().is_some() => answer,
                    Some(last) => {
                        answers = vec![last.clone()].into_iter().peekable();
                        last
                    }
                    None => (500, "no answer scripted".to_owned()),
                };
                let (status, body) = match answer {
                    (200, body) if body == "EMBED" => (200, embeddings(&request)),
                    other => other,
                };
                if let Ok(mut requests) = seen.lock() {
                    requests.push(request);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(Self { url, requests })
    }

    fn requests(&self) -> Vec<serde_json::Value> {
        self.requests
            .lock()
            .map(|requests| requests.clone())
            .unwrap_or_default()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// The API's answer for a request: input i gets `[i + 1, its length, 1]`, listed in reverse order.
fn embeddings(request: &serde_json::Value) -> String {
    let inputs = request["input"].as_array().cloned().unwrap_or_default();
    let data: Vec<_> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(index, text)| {
            let length = text.as_str().map_or(0, str::len);
            serde_json::json!({"object": "embedding", "index": index, "embedding": [index as f32 + 1.0, length as f32, 1.0]})
        })
        .collect();
    serde_json::json!({
        "object": "list", "model": "fake-embed", "data": data,
        "usage": {"prompt_tokens": 1, "total_tokens": 1}
    })
    .to_string()
}

fn config(url: &str) -> OpenAiConfig {
    OpenAiConfig {
        model: "fake-embed".to_owned(),
        dimension: 3,
        batch_size: 2,
        ..OpenAiConfig::new(url, "sk-test")
    }
}

fn texts(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|text| (*text).to_owned()).collect()
}

#[tokio::test]
async fn texts_are_batched_and_vectors_come_back_in_order() -> anyhow::Result<()> {
    let server = FakeOpenAi::start(vec![(200, "EMBED".to_owned())])?;
    let embedder = OpenAiEmbedder::new(config(&server.url))?;
    let vectors = embedder.embed(texts(&["a", "bb", "ccc", "", "eeeee"])).await?;
    let lengths: Vec<f32> = vectors.iter().map(|vector| vector[1]).collect();
    assert_eq!(
        lengths,
        [1.0, 2.0, 3.0, 1.0, 5.0],
        "order kept; the empty text went as one space"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "5 texts in batches of 2");
    assert_eq!(requests[0]["model"], "fake-embed");
    assert_eq!(requests[0]["input"], serde_json::json!(["a", "bb"]));
    Ok(())
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() -> anyhow::Result<()> {
    let rate_limited =
        r#"{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":null}}"#;
    let server = FakeOpenAi::start(vec![
        (429, rate_limited.to_owned()),
        (503, "overloaded".to_owned()),
        (200, "EMBED".to_owned()),
    ])?;
    let embedder = OpenAiEmbedder::new(config(&server.url))?;
    let vectors = embedder.embed(texts(&["x"])).await?;
    assert_eq!(vectors, [vec![1.0, 1.0, 1.0]]);
    assert_eq!(server.requests().len(), 3);
    Ok(())
}

#[tokio::test]
async fn a_lasting_outage_is_a_clear_error_after_the_retries() -> anyhow::Result<()> {
    let server = FakeOpenAi::start(vec![(500, "down".to_owned())])?;
    let error = OpenAiEmbedder::new(config(&server.url))?
        .embed(texts(&["x"]))
        .await;
    assert!(
        matches!(
            error,
            Err(Error::Remote {
                status: Some(500),
                ..
            })
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 4, "the first attempt and 3 retries");
    Ok(())
}

#[tokio::test]
async fn a_refused_request_is_not_retried() -> anyhow::Result<()> {
    let invalid =
        r#"{"error":{"message":"bad model","type":"invalid_request_error","param":null,"code":null}}"#;
    let server = FakeOpenAi::start(vec![(400, invalid.to_owned())])?;
    let error = OpenAiEmbedder::new(config(&server.url))?
        .embed(texts(&["x"]))
        .await;
    let message = error.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(
        message.contains("bad model") && message.contains("400"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 1);
    Ok(())
}

#[tokio::test]
async fn vectors_of_the_wrong_length_are_refused() -> anyhow::Result<()> {
    let server = FakeOpenAi::start(vec![(200, "EMBED".to_owned())])?;
    let embedder = OpenAiEmbedder::new(OpenAiConfig {
        dimension: 1536,
        ..config(&server.url)
    })?;
    let error = embedder.embed(texts(&["x"])).await;
    assert!(
        matches!(
            error,
            Err(Error::WrongDimension {
                expected: 1536,
                got: 3,
                ..
            })
        ),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_then_reported() -> anyhow::Result<()> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let embedder = OpenAiEmbedder::new(config(&format!("http://127.0.0.1:{port}/v1")))?;
    let error = embedder.embed(texts(&["x"])).await;
    assert!(
        matches!(error, Err(Error::Remote { status: None, .. })),
        "{error:?}"
    );
    // An https endpoint is spoken to over TLS: a server answering in plain text fails the handshake.
    let plain = TcpListener::bind("127.0.0.1:0")?;
    let port = plain.local_addr()?.port();
    std::thread::spawn(move || {
        use std::io::Write as _;
        while let Ok((mut socket, _)) = plain.accept() {
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let embedder = OpenAiEmbedder::new(config(&format!("https://127.0.0.1:{port}/v1")))?;
    let error = embedder.embed(texts(&["x"])).await;
    assert!(
        matches!(error, Err(Error::Remote { status: None, .. })),
        "{error:?}"
    );
    Ok(())
}
