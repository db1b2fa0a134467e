//! The SMTP listener for replies by e-mail (`CUPULA_INBOUND_SMTP_LISTEN`): the mail server
//! that receives the portal's domain relays the reply addresses here, as it would to any
//! next hop. It accepts a recipient only when it is a request's reply address
//! (`inbound::ticket_of_address`), so it relays nothing and takes no other mail; it answers
//! "250" once the reply is posted or held, and "451" (try again later) when that could not be
//! recorded, so the mail server keeps the mail until it can be.
//!
//! It speaks plain SMTP without TLS or authentication: run it on loopback or a private
//! network, behind the mail server, never open to the Internet.

use super::{receive, ticket_of_address, Inbound, Received, MAX_MESSAGE_BYTES};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Sessions served at once; more are asked to come back.
const SESSIONS: usize = 32;
/// How long a client may stay silent.
const IDLE: Duration = Duration::from_secs(300);
/// The longest command line (RFC 5321 allows 512 bytes; some clients send more).
const LINE_MAX: usize = 4096;
/// Recipients of one mail.
const RECIPIENTS_MAX: usize = 20;

/// Serves SMTP sessions on `listener` for as long as the portal runs.
pub async fn serve(listener: TcpListener, inbound: Inbound) {
    let sessions = Arc::new(tokio::sync::Semaphore::new(SESSIONS));
    loop {
        let (mut socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "the reply listener could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = sessions.clone().try_acquire_owned() else {
            let _ = socket
                .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                .await;
            continue;
        };
        let inbound = inbound.clone();
        tokio::spawn(async move {
            if let Err(err) = session(socket, &inbound).await {
                tracing::debug!(%peer, error = %err, "a reply session ended early");
            }
            drop(permit);
        });
    }
}

/// A line of at most `max` bytes, without its line end; `None` at the end of the stream.
/// A longer line is read to its end and given back as `Err(TooLong)`.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<Result<Vec<u8>, TooLong>>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            if too_long {
                return Ok(Some(Err(TooLong)));
            }
            return Ok((!line.is_empty()).then_some(Ok(line)));
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (&available[..=at], true),
            None => (available, false),
        };
        if !too_long && line.len() + chunk.len() <= max + 2 {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let used = chunk.len();
        reader.consume(used);
        if done {
            if too_long {
                return Ok(Some(Err(TooLong)));
            }
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            return Ok(Some(Ok(line)));
        }
    }
}

struct TooLong;

/// `x@y` from `MAIL FROM:<x@y> SIZE=…` or `RCPT TO:<x@y>`.
fn address_in(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(start), Some(end)) if start < end => argument[start + 1..end].trim().to_string(),
        _ => argument.split_whitespace().next().unwrap_or("").to_string(),
    }
}

async fn session(socket: TcpStream, inbound: &Inbound) -> std::io::Result<()> {
    let host = inbound
        .config
        .base_url
        .host_str()
        .unwrap_or("localhost")
        .to_string();
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    write
        .write_all(format!("220 {host} Cúpula replies ESMTP\r\n").as_bytes())
        .await?;
    let mut sender: Option<String> = None;
    let mut tickets: Vec<i64> = Vec::new();
    loop {
        let line = match tokio::time::timeout(IDLE, read_line(&mut reader, LINE_MAX)).await {
            Err(_) => {
                write.write_all(b"421 4.4.2 Idle too long\r\n").await?;
                return Ok(());
            }
            Ok(line) => line?,
        };
        let Some(line) = line else { return Ok(()) };
        let Ok(line) = line else {
            write.write_all(b"500 5.5.2 Line too long\r\n").await?;
            continue;
        };
        let command = String::from_utf8_lossy(&line).to_string();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let answer: String = match verb.as_str() {
            "EHLO" => format!(
                "250-{host}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250 ENHANCEDSTATUSCODES\r\n"
            ),
            "HELO" => format!("250 {host}\r\n"),
            "MAIL" => {
                sender = Some(address_in(
                    command.split_once(':').map_or("", |(_, a)| a),
                ));
                tickets.clear();
                "250 2.1.0 OK\r\n".into()
            }
            "RCPT" if sender.is_none() => "503 5.5.1 MAIL first\r\n".into(),
            "RCPT" => {
                let address = address_in(command.split_once(':').map_or("", |(_, a)| a));
                match ticket_of_address(&inbound.key, &address) {
                    Some(_) if tickets.len() >= RECIPIENTS_MAX => {
                        "452 4.5.3 Too many recipients\r\n".into()
                    }
                    Some(ticket_id) => {
                        if !tickets.contains(&ticket_id) {
                            tickets.push(ticket_id);
                        }
                        "250 2.1.5 OK\r\n".into()
                    }
                    None => "550 5.1.1 No such request address\r\n".into(),
                }
            }
            "DATA" if tickets.is_empty() => "503 5.5.1 No valid recipients\r\n".into(),
            "DATA" => {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let Some(data) = read_data(&mut reader).await? else {
                    return Ok(());
                };
                let answer = match data {
                    None => "552 5.3.4 Message too big\r\n".to_string(),
                    Some(raw) => deliver(inbound, &tickets, &raw).await,
                };
                sender = None;
                tickets.clear();
                answer
            }
            "RSET" => {
                sender = None;
                tickets.clear();
                "250 2.0.0 OK\r\n".into()
            }
            "NOOP" => "250 2.0.0 OK\r\n".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            "VRFY" => "252 2.1.5 Cannot verify\r\n".into(),
            _ => "502 5.5.2 Command not implemented\r\n".into(),
        };
        write.write_all(answer.as_bytes()).await?;
    }
}

/// The message after DATA, dot-unstuffed: `Some(None)` when it was bigger than
/// `MAX_MESSAGE_BYTES` (read to its end and dropped), `None` when the client went away.
async fn read_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Option<Vec<u8>>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let line = match tokio::time::timeout(IDLE, read_line(reader, MAX_MESSAGE_BYTES)).await {
            Err(_) => return Ok(None),
            Ok(line) => line?,
        };
        let Some(line) = line else { return Ok(None) };
        let Ok(line) = line else {
            too_big = true;
            continue;
        };
        if line == b"." {
            return Ok(Some((!too_big).then_some(data)));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if too_big || data.len() + line.len() + 2 > MAX_MESSAGE_BYTES {
            too_big = true;
            data = Vec::new();
            continue;
        }
        data.extend_from_slice(line);
        data.extend_from_slice(b"\r\n");
    }
}

/// Posts (or holds) the mail on each request it was sent to; the SMTP answer.
async fn deliver(inbound: &Inbound, tickets: &[i64], raw: &[u8]) -> String {
    for ticket_id in tickets {
        match receive(inbound, *ticket_id, raw).await {
            Ok(Received::Posted(entry_id)) => {
                tracing::info!(
                    ticket = ticket_id,
                    entry = entry_id,
                    "a reply by e-mail was posted"
                )
            }
            Ok(Received::Held) => {
                tracing::info!(ticket = ticket_id, "a reply by e-mail was held for staff")
            }
            Ok(Received::Copy) => {}
            Ok(Received::Ignored(why)) => {
                tracing::info!(
                    ticket = ticket_id,
                    why,
                    "a mail to a reply address was dropped"
                )
            }
            Err(err) => {
                tracing::warn!(ticket = ticket_id, error = %err, "a reply by e-mail could not be recorded; the mail server will send it again");
                return "451 4.3.0 Try again later\r\n".into();
            }
        }
    }
    "250 2.0.0 OK\r\n".into()
}
