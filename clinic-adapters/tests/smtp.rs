//! The SMTP adapter against a small SMTP server in the test: what it sends, what it
//! retries, and that it never sends in clear when STARTTLS was asked for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinic_adapters::retry::RetryPolicy;
use clinic_adapters::smtp::{Smtp, SmtpConfig, SmtpSecurity};
use clinic_core::people::Email;
use clinic_core::ports::{Attachment, EmailMessage, EmailSender, PortErrorKind};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the test server answers `RCPT TO`, connection by connection.
#[derive(Clone, Copy)]
enum Rcpt {
    Ok,
    Deferred,
    Rejected,
}

#[derive(Default)]
struct Seen {
    connections: usize,
    commands: Vec<String>,
    data: Vec<String>,
}

/// Starts an SMTP server on a free loopback port answering `RCPT TO` per `script` (the last
/// entry repeats); `starttls` says whether EHLO advertises STARTTLS (it is never completed).
async fn server(script: Vec<Rcpt>, starttls: bool) -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let n = {
                let mut g = s.lock().unwrap();
                g.connections += 1;
                g.connections
            };
            let rcpt = script[(n - 1).min(script.len() - 1)];
            let s = s.clone();
            tokio::spawn(async move {
                let (r, mut w) = socket.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 test.local ESMTP\r\n").await.unwrap();
                let mut in_data = false;
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            s.lock().unwrap().data.push(std::mem::take(&mut data));
                            w.write_all(b"250 2.0.0 Ok: queued as ABC123\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    s.lock().unwrap().commands.push(line.clone());
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        if starttls {
                            b"250-test.local\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
                        } else {
                            b"250-test.local\r\n250 8BITMIME\r\n"
                        }
                    } else if upper.starts_with("STARTTLS") {
                        // Accept, then hang up without a handshake.
                        w.write_all(b"220 2.0.0 Ready to start TLS\r\n").await.unwrap();
                        return;
                    } else if upper.starts_with("MAIL FROM") {
                        b"250 2.1.0 Ok\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        match rcpt {
                            Rcpt::Ok => b"250 2.1.5 Ok\r\n",
                            Rcpt::Deferred => b"451 4.3.0 Try again later\r\n",
                            Rcpt::Rejected => b"550 5.1.1 No such mailbox\r\n",
                        }
                    } else if upper == "DATA" {
                        in_data = true;
                        b"354 End data with <CR><LF>.<CR><LF>\r\n"
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 2.0.0 Ok\r\n"
                    } else if upper == "QUIT" {
                        w.write_all(b"221 2.0.0 Bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"502 5.5.2 Command not recognised\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, seen)
}

fn config(port: u16, security: SmtpSecurity) -> SmtpConfig {
    let mut c = SmtpConfig::new(
        if security == SmtpSecurity::Plain {
            "127.0.0.1"
        } else {
            "localhost"
        },
        Email::parse("rooms@harbour.example").unwrap(),
        "Harbour Psychology",
    );
    c.security = security;
    c.port = Some(port);
    c.timeout = Duration::from_secs(5);
    c.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
    };
    c
}

/// A PDF header with the binary comment line real PDFs carry.
const PDF: &[u8] = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";

fn email() -> EmailMessage {
    EmailMessage {
        to: Email::parse("sam@patient.example").unwrap(),
        reply_to: Some(Email::parse("admin@harbour.example").unwrap()),
        subject: "Invoice INV-000042 from Harbour Psychology".into(),
        text: "Invoice attached.".into(),
        html: Some("<p>Invoice attached.</p>".into()),
        attachments: vec![Attachment {
            filename: "INV-000042.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: PDF.to_vec(),
        }],
    }
}

#[tokio::test]
async fn a_message_goes_out_with_both_bodies_and_the_attachment() {
    let (port, seen) = server(vec![Rcpt::Ok], false).await;
    let id = Smtp::new(&config(port, SmtpSecurity::Plain))
        .unwrap()
        .send(&email())
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some("2.0.0 Ok: queued as ABC123"));
    let g = seen.lock().unwrap();
    assert!(g.commands.iter().any(|c| c == "MAIL FROM:<rooms@harbour.example>"));
    assert!(g.commands.iter().any(|c| c == "RCPT TO:<sam@patient.example>"));
    let data = &g.data[0];
    assert!(
        data.contains("From: \"Harbour Psychology\" <rooms@harbour.example>"),
        "{data}"
    );
    assert!(data.contains("To: sam@patient.example"));
    assert!(data.contains("Reply-To: admin@harbour.example"));
    assert!(data.contains("Subject: Invoice INV-000042 from Harbour Psychology"));
    assert!(data.contains("multipart/alternative"));
    assert!(data.contains("Content-Type: text/plain"));
    assert!(data.contains("<p>Invoice attached.</p>"));
    assert!(data.contains("filename=\"INV-000042.pdf\""));
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(PDF);
    assert!(data.contains(&encoded), "the PDF, base64-encoded: {data}");
}

#[tokio::test]
async fn a_deferral_is_retried_and_a_rejection_is_not() {
    let (port, seen) = server(vec![Rcpt::Deferred, Rcpt::Ok], false).await;
    Smtp::new(&config(port, SmtpSecurity::Plain))
        .unwrap()
        .send(&email())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().data.len(), 1, "sent once");

    let (port, seen) = server(vec![Rcpt::Rejected], false).await;
    let e = Smtp::new(&config(port, SmtpSecurity::Plain))
        .unwrap()
        .send(&email())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Invalid);
    assert!(e.to_string().contains("refused"), "{e}");
    assert!(!e.to_string().contains("sam@"), "no address in the error");
    assert_eq!(seen.lock().unwrap().connections, 1, "not retried");

    let (port, seen) = server(vec![Rcpt::Deferred], false).await;
    let e = Smtp::new(&config(port, SmtpSecurity::Plain))
        .unwrap()
        .send(&email())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Unavailable);
    assert_eq!(seen.lock().unwrap().connections, 3, "the first try and two retries");
}

#[tokio::test]
async fn starttls_is_required_never_skipped() {
    // A server that does not offer STARTTLS gets no message.
    let (port, seen) = server(vec![Rcpt::Ok], false).await;
    let e = Smtp::new(&config(port, SmtpSecurity::StartTls))
        .unwrap()
        .send(&email())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Unavailable);
    {
        let g = seen.lock().unwrap();
        assert!(
            !g.commands.iter().any(|c| c.starts_with("MAIL FROM")),
            "{:?}",
            g.commands
        );
        assert!(g.data.is_empty());
    }
    // One that offers it but cannot complete the handshake gets none either.
    let (port, seen) = server(vec![Rcpt::Ok], true).await;
    assert!(
        Smtp::new(&config(port, SmtpSecurity::StartTls))
            .unwrap()
            .send(&email())
            .await
            .is_err()
    );
    let g = seen.lock().unwrap();
    assert!(g.commands.iter().any(|c| c == "STARTTLS"));
    assert!(!g.commands.iter().any(|c| c.starts_with("MAIL FROM")));
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = Smtp::new(&config(port, SmtpSecurity::Plain))
        .unwrap()
        .send(&email())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), PortErrorKind::Unavailable);
}
