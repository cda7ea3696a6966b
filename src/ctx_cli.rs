//! `ctx`: the cfyd binary run under that name (a link on a script's PATH)
//! sends its arguments to the operation's context proxy
//! (`CTX_SOCKET_URL`) and prints the answer, as 3.3's `ctx` did.
//! `-j`/`--json-output` prints JSON; an argument starting with `@` is JSON.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};

/// Runs the client; the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    let json_output = args.iter().any(|a| a == "-j" || a == "--json-output");
    let args: Vec<String> = args
        .into_iter()
        .filter(|a| a != "-j" && a != "--json-output")
        .collect();
    match call(&args) {
        Ok(Value::Null) if !json_output => 0,
        Ok(Value::String(s)) if !json_output => {
            println!("{s}");
            0
        }
        Ok(v) => {
            println!("{v}");
            0
        }
        Err(e) => {
            eprintln!("ctx: {e}");
            1
        }
    }
}

fn call(args: &[String]) -> Result<Value, String> {
    let url = std::env::var("CTX_SOCKET_URL")
        .map_err(|_| "CTX_SOCKET_URL is not set: ctx runs inside an operation".to_owned())?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported CTX_SOCKET_URL {url}"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let body = json!({"args": args}).to_string();
    let mut stream =
        TcpStream::connect(host).map_err(|e| format!("cannot reach the context proxy: {e}"))?;
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .take(16 << 20)
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .ok_or("malformed answer from the context proxy")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "the context proxy answered {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    let answer: Value =
        serde_json::from_str(payload).map_err(|e| format!("malformed answer: {e}"))?;
    match answer["type"].as_str() {
        Some("result") => Ok(answer["payload"].clone()),
        _ => Err(answer["payload"]["error"]
            .as_str()
            .unwrap_or("error")
            .to_owned()),
    }
}
