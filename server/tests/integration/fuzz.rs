//! Random and malformed bodies sent to every REST operation and every server function, signed
//! in as staff, as a client, with an API key and as nobody: each one is answered with a JSON
//! error (the API), a page or a redirect back to the form (server functions), never a panic
//! or a server error.

use crate::common::{api_key, json_of, spawn_app, TestApp};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::{Client, Method};
use serde_json::{json, Value};

/// Bodies sent to each operation.
const BODIES_PER_ROUTE: usize = 48;

/// A small deterministic generator: a failure names its seed and can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Text people and programs really send, and what they should not.
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "",
            "0",
            "-1",
            "9223372036854775808",
            "1e308",
            "NaN",
            "true",
            "null",
            "OBS-2026-00001",
            "../../etc/passwd",
            "%00",
            "\u{0}",
            "\r\nBcc: x@y.example",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "cúpula ☄️ 望远镜",
            "\u{202E}fdp.exe",
            "open",
            "done",
            "high",
            "question",
            "a@b.example",
        ];
        match self.below(4) {
            0 => "x".repeat(self.below(70_000)),
            _ => PIECES[self.below(PIECES.len())].to_string(),
        }
    }

    fn json_value(&mut self, depth: usize) -> Value {
        match self.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(self.next() as i64),
            2 => json!(self.below(2) == 1),
            3 | 4 => json!(self.text()),
            5 => Value::Array(
                (0..self.below(4))
                    .map(|_| self.json_value(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut object = serde_json::Map::new();
                for _ in 0..self.below(5) {
                    object.insert(field(self), self.json_value(depth + 1));
                }
                Value::Object(object)
            }
        }
    }
}

/// A field name the portal's forms and API use, or one they do not.
fn field(random: &mut Random) -> String {
    const FIELDS: &[&str] = &[
        "number",
        "body",
        "comment",
        "subject",
        "status",
        "reason",
        "priority",
        "request_type",
        "telescope_id",
        "organization_id",
        "assignee",
        "assignee_id",
        "email",
        "password",
        "name",
        "role",
        "language",
        "attachments",
        "internal",
        "seen_up_to",
        "user_id",
        "id",
        "token",
        "entries",
        "file",
        "x",
    ];
    FIELDS[random.below(FIELDS.len())].to_string()
}

/// One malformed or random body: its content type (if any) and bytes.
fn body(random: &mut Random, kind: usize) -> (Option<String>, Vec<u8>) {
    let form = |random: &mut Random| {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for _ in 0..random.below(6) {
            form.append_pair(&field(random), &random.text());
        }
        form.finish().into_bytes()
    };
    let boundary = "cupulaFuzzBoundary";
    let multipart = format!("multipart/form-data; boundary={boundary}");
    match kind % 12 {
        0 => (None, Vec::new()),
        1 => (Some("application/octet-stream".into()), random.bytes(4000)),
        2 => (Some("application/json".into()), random.bytes(2000)),
        3 => {
            let whole = serde_json::to_vec(&random.json_value(0)).unwrap();
            let cut = random.below(whole.len() + 1);
            (Some("application/json".into()), whole[..cut].to_vec())
        }
        4 => (
            Some("application/json".into()),
            serde_json::to_vec(&random.json_value(0)).unwrap(),
        ),
        5 => {
            let depth = 1 + random.below(5000);
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            (Some("application/json".into()), nested.into_bytes())
        }
        6 => (
            Some("application/x-www-form-urlencoded".into()),
            form(random),
        ),
        7 => (
            Some("application/x-www-form-urlencoded".into()),
            b"a=%zz&%%&=&b=%F0%28%8C%28&\xff\xfe=1&number=%".to_vec(),
        ),
        8 => {
            let mut bytes =
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"").into_bytes();
            bytes.extend(random.bytes(300));
            (Some(multipart), bytes)
        }
        9 => {
            let mut bytes = Vec::new();
            for _ in 0..1 + random.below(3) {
                bytes.extend(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; \
                         filename=\"{}\"\r\nContent-Type: image/png\r\n\r\n",
                        field(random),
                        random.text().replace(['"', '\r', '\n'], "")
                    )
                    .into_bytes(),
                );
                bytes.extend(random.bytes(3000));
                bytes.extend(b"\r\n");
            }
            bytes.extend(format!("--{boundary}--\r\n").into_bytes());
            (Some(multipart), bytes)
        }
        10 => (Some("multipart/form-data".into()), random.bytes(500)),
        _ => (Some("text/plain; charset=utf-8".into()), form(random)),
    }
}

/// A path with its `{parameters}` filled in: the real ticket now and then, junk otherwise.
fn fill(path: &str, random: &mut Random, number: &str) -> String {
    let mut filled = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        filled.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |end| start + end + 1);
        let value = match random.below(3) {
            0 => number.to_string(),
            1 => format!("{:032x}", random.next()),
            _ => form_urlencoded::byte_serialize(
                random
                    .text()
                    .chars()
                    .take(200)
                    .collect::<String>()
                    .as_bytes(),
            )
            .collect(),
        };
        filled.push_str(&value);
        rest = &rest[end..];
    }
    filled.push_str(rest);
    filled
}

/// Who sends a request.
#[derive(Clone, Copy, Debug)]
enum Sender {
    Staff,
    Client,
    Program,
    Nobody,
}

struct Fuzzer {
    app: TestApp,
    http: Client,
    staff_cookie: String,
    client_cookie: String,
    key: String,
    number: String,
}

impl Fuzzer {
    /// Sends one request; a description of what was wrong with the answer, if anything.
    async fn send(
        &self,
        method: Method,
        path: &str,
        sender: Sender,
        (content_type, bytes): (Option<String>, Vec<u8>),
    ) -> Option<String> {
        let mut request = self
            .http
            .request(method.clone(), self.app.url(path))
            .header("Tus-Resumable", "1.0.0");
        match sender {
            Sender::Staff | Sender::Client => {
                let cookie = match sender {
                    Sender::Staff => &self.staff_cookie,
                    _ => &self.client_cookie,
                };
                request = request
                    .header(COOKIE, cookie)
                    .header("Origin", &self.app.base)
                    .header("Sec-Fetch-Site", "same-origin");
            }
            Sender::Program => {
                request = request.header(AUTHORIZATION, format!("Bearer {}", self.key))
            }
            Sender::Nobody => {}
        }
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if method != Method::GET && method != Method::HEAD {
            request = request.body(bytes);
        }
        let what = format!("{method} {path} as {sender:?}");
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return Some(format!("{what}: no answer ({err})")),
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if status.is_server_error() {
            let text = response.text().await.unwrap_or_default();
            return Some(format!(
                "{what}: {status} {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        let said_why = content_type.starts_with("application/json")
            || content_type.starts_with("text/html")
            || content_type.starts_with("text/event-stream");
        // A refusal says why, in JSON or as a page; a redirect goes back to the form with it.
        if status.is_client_error() && !said_why && method != Method::HEAD {
            return Some(format!("{what}: {status} with {content_type:?}"));
        }
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_to_every_operation_get_an_answer_never_a_server_error() {
    let app = spawn_app().await;
    let client = app.account("client");
    let (_, key) = api_key(&app.db.db, &client.email, &client.password).await;
    // A connection each: a refusal answered before a large body was read ends its connection,
    // and a pooled one would carry the next request into that close.
    let http = Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let opened = json_of(
        http.post(app.url("/api/v1/tickets"))
            .header(AUTHORIZATION, format!("Bearer {key}"))
            .json(&json!({ "request_type": "repair", "priority": 5, "comment": "El foco no responde." })),
    )
    .await;
    let number = opened["number"].as_str().unwrap().to_string();
    let fuzzer = Fuzzer {
        staff_cookie: app.session_cookie("admin").await,
        client_cookie: app.session_cookie("client").await,
        app,
        http,
        key,
        number,
    };

    // Every documented REST operation…
    let description = json_of(fuzzer.http.get(fuzzer.app.url("/api/v1/openapi.json"))).await;
    let mut routes: Vec<(Method, String)> = Vec::new();
    for (path, item) in description["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    let rest_routes = routes.len();
    // …and every server function, those that end sessions last (the others keep theirs).
    let mut functions: Vec<(Method, String)> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (method, path.to_string()))
        .collect();
    functions.sort_by_key(|(_, path)| {
        (
            path.contains("sign_out") || path.contains("session"),
            path.clone(),
        )
    });
    let function_count = functions.len();
    assert!(
        rest_routes > 10 && function_count > 30,
        "{rest_routes} {function_count}"
    );
    routes.extend(functions);

    let mut random = Random(0x5EED_CAFE_F00D_0001);
    let senders = [
        Sender::Staff,
        Sender::Client,
        Sender::Program,
        Sender::Nobody,
    ];
    let mut sent = 0;
    let mut failures = Vec::new();
    for (method, path) in &routes {
        for kind in 0..BODIES_PER_ROUTE {
            let seed = random.0;
            let sender = senders[random.below(senders.len())];
            let path = fill(path, &mut random, &fuzzer.number);
            let body = body(&mut random, kind);
            sent += 1;
            if let Some(failure) = fuzzer.send(method.clone(), &path, sender, body).await {
                failures.push(format!("{failure} (seed {seed:#x}, body kind {kind})"));
            }
        }
    }
    // Still serving after all of it.
    let health = fuzzer
        .http
        .get(fuzzer.app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    println!(
        "fuzzed bodies: {sent} requests to {rest_routes} REST operations and {function_count} \
         server functions, {} answered wrongly",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
