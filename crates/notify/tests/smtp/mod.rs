//! An SMTP server for delivery tests, started on 127.0.0.1, and a decoder
//! of the messages it receives.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

/// What the SMTP server received: one raw message per transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mailbox {
    pub(crate) messages: Arc<Mutex<Vec<Vec<u8>>>>,
    current: Vec<u8>,
    pub(crate) recipients: Arc<Mutex<Vec<String>>>,
}

impl mailin_embedded::Handler for Mailbox {
    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        self.recipients.lock().expect("lock").push(to.to_owned());
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = std::mem::take(&mut self.current);
        self.messages.lock().expect("lock").push(message);
        mailin_embedded::response::OK
    }
}

/// Starts an SMTP server without TLS on a free port of 127.0.0.1 and
/// returns its address and the mailbox it fills.
pub(crate) fn start_smtp() -> (SocketAddr, Mailbox) {
    let mailbox = Mailbox::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind SMTP");
    let addr = listener.local_addr().expect("address");
    let mut server = mailin_embedded::Server::new(mailbox.clone());
    server
        .with_name("localhost")
        .with_ssl(mailin_embedded::SslConfig::None)
        .expect("no TLS")
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        // The error type is not Send, so it is reported here.
        if let Err(error) = server.serve() {
            panic!("SMTP server failed: {error}");
        }
    });
    (addr, mailbox)
}

/// Decodes the RFC 2047 subject and the base64 or 8-bit body of a message.
pub(crate) fn decode_mail(raw: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let (headers, body) = text.split_once("\n\n").expect("headers and body");
    let unfolded = headers.replace("\n ", " ");
    let subject_line = unfolded
        .lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .expect("a subject");
    let subject: String = subject_line
        .split_whitespace()
        .map(|word| {
            let encoded = word
                .strip_prefix("=?utf-8?b?")
                .or_else(|| word.strip_prefix("=?UTF-8?B?"))
                .and_then(|rest| rest.strip_suffix("?="));
            match encoded {
                Some(encoded) => String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(encoded)
                        .expect("base64 subject"),
                )
                .expect("UTF-8 subject"),
                None => word.to_owned(),
            }
        })
        .collect();
    let body = if unfolded.contains("Content-Transfer-Encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .expect("base64 body"),
        )
        .expect("UTF-8 body")
    } else {
        body.to_owned()
    };
    (subject, body)
}
