//! Response bodies are bounded: a server cannot make osiris allocate what it likes, whether it
//! announces the size (Content-Length) or streams it chunked.

use osiris::http::{json_body, BodyError};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;

/// A one-connection HTTP/1.1 server that answers with `count` chunks of `chunk`, chunked, then
/// the closing chunk. Returns its URL.
fn chunked_server(chunk: &'static str, count: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let mut out =
            String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        let body: Vec<String> = std::iter::once("[".to_string())
            .chain(std::iter::repeat_n(chunk.to_string(), count))
            .chain(["0]".to_string()])
            .collect();
        for piece in body {
            out.push_str(&format!("{:x}\r\n{piece}\r\n", piece.len()));
        }
        out.push_str("0\r\n\r\n");
        // The client may stop reading early; a broken pipe is expected then.
        let _ = stream.write_all(out.as_bytes());
    });
    url
}

#[test]
fn a_body_over_the_limit_is_refused_with_or_without_content_length() {
    let client = reqwest::blocking::Client::new();
    // Chunked, no length announced: 2,001 bytes against a 1 KiB limit.
    let url = chunked_server("1,", 1000);
    let refused = json_body::<Value>(client.get(&url).send().unwrap(), 1024);
    assert!(matches!(refused, Err(BodyError::TooLarge { limit: 1024 })), "{refused:?}");
    let url = chunked_server("1,", 1000);
    let rows: Vec<u64> = json_body(client.get(&url).send().unwrap(), 1 << 20).unwrap();
    assert_eq!(rows.len(), 1001);

    // Announced: refused from the header alone.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(wiremock::MockServer::start());
    rt.block_on(
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(format!("[{}0]", "1,".repeat(1000))))
            .mount(&server),
    );
    let response = client.get(server.uri()).send().unwrap();
    assert_eq!(response.content_length(), Some(2003));
    assert!(matches!(json_body::<Value>(response, 1024), Err(BodyError::TooLarge { .. })));
    let within: Vec<u64> = json_body(client.get(server.uri()).send().unwrap(), 4096).unwrap();
    assert_eq!(within.len(), 1001);
    drop(rt);
}
