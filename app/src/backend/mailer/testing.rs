//! An SMTP server for tests, on a socket of its own: it keeps every message it is sent, as a
//! mail server would, answers `RCPT TO` as told, and can take its time over each message (a
//! slow server, to stop a sender in the middle of a batch).

use crate::backend::storage::links::NewMail;
use crate::backend::storage::Db;
use base64::Engine as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A message as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent: headers, blank line, body (dot-unstuffed).
    pub data: String,
    /// When the receiver kept it.
    pub at: std::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        // Folded lines (a continuation starts with white space) belong to the header above.
        let head = self
            .data
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        head.split("\r\n")
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_string())
    }

    /// The body, its transfer encoding undone.
    pub fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        match self.header("Content-Transfer-Encoding").as_deref() {
            Some("base64") => String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(body.replace("\r\n", ""))
                    .unwrap(),
            )
            .unwrap(),
            Some("quoted-printable") => quoted_printable(body),
            _ => body.to_string(),
        }
    }
}

pub fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// An SMTP server on a free port that keeps what it is sent. `refuse` is its answer to
/// `RCPT TO` while set (a "451 …" defers, a "550 …" refuses).
pub struct Receiver {
    port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<Mutex<Option<&'static str>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::taking(Duration::ZERO).await
    }

    /// A receiver that works on each message for `pause` before it keeps it and says so.
    pub async fn taking(pause: Duration) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let refuse: Arc<Mutex<Option<&'static str>>> = Arc::default();
        let (kept, answer) = (received.clone(), refuse.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(converse(socket, kept.clone(), answer.clone(), pause));
            }
        });
        Receiver {
            port,
            received,
            refuse,
        }
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == address))
            .cloned()
            .collect()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Every message received, in order.
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn answer_rcpt(&self, answer: Option<&'static str>) {
        *self.refuse.lock().unwrap() = answer;
    }

    /// `CUPULA_SMTP_URL` for this receiver.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

/// One SMTP session, as RFC 5321 has it (the commands lettre uses).
async fn converse(
    socket: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<Mutex<Option<&'static str>>>,
    pause: Duration,
) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 receiver.test ESMTP\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-receiver.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            from = address_in(&command);
            to.clear();
            "250 2.1.0 OK\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            match *refuse.lock().unwrap() {
                Some(refusal) => format!("{refusal}\r\n"),
                None => {
                    to.push(address_in(&command));
                    "250 2.1.5 OK\r\n".into()
                }
            }
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            // Kept once worked on, whether or not the sender is still there to hear the
            // answer, as a mail server commits a message before it answers.
            tokio::time::sleep(pause).await;
            received.lock().unwrap().push(Received {
                mail_from: from.clone(),
                rcpt_to: to.clone(),
                data,
                at: std::time::Instant::now(),
            });
            "250 2.0.0 queued\r\n".into()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 OK\r\n".into()
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// `x@y` from `MAIL FROM:<x@y>` or `RCPT TO:<x@y>`.
fn address_in(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command[start..end].to_string()
}

/// Queues `count` plain notices ("Aviso 0"… to aviso0@andromeda.example…) for the observatory,
/// as the notifier would, in one transaction.
pub async fn queue_notices(db: &Db, observatory_id: i64, count: usize) {
    let recipients: Vec<String> = (0..count)
        .map(|n| format!("aviso{n}@andromeda.example"))
        .collect();
    queue_notices_to(db, observatory_id, &recipients).await;
}

/// Queues a plain notice "Aviso n" ("Texto del aviso n") to each of `recipients`, the n-th to
/// the n-th, in one transaction.
pub async fn queue_notices_to(db: &Db, observatory_id: i64, recipients: &[String]) {
    let mut tx = db.begin().await.expect("a transaction");
    for (n, to) in recipients.iter().enumerate() {
        let (subject, body) = (format!("Aviso {n}"), format!("Texto del aviso {n}"));
        tx.queue_mail(
            &NewMail {
                observatory_id,
                to_address: to,
                subject: &subject,
                body_text: &body,
                sealed_body: None,
                kind: "notice",
                ticket_id: None,
                body_html: None,
                from_name: None,
                unsubscribe_url: None,
            },
            chrono::Utc::now(),
        )
        .await
        .expect("a queued notice");
    }
    tx.commit().await.expect("the notices committed");
}
