//! The abuse suite: the real `switchboard serve` binary, attacked the way a stranger with a
//! script would, with what each attack achieved measured and printed. Every attack here once
//! worked (issue 18): a login flood grew the process by hundreds of megabytes, and a valid image
//! header in front of random bytes filled the disk.
//!
//! Figures are printed (`cargo test abuse -- --nocapture`) and asserted against generous
//! bounds on outcomes (bytes, megabytes, refusals), never on time.

use crate::support::forms::{cookie_of, csrf_in};
use crate::support::images;
use crate::support::instance::{Instance, take_turn};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use switchboard::console::{Role, agents, sessions};
use switchboard::store::{self, ConnectOptions};
use tokio::io::AsyncWriteExt;

/// A served instance on a fresh SQLite file with two plain agents (`anna`, `boris`) and an
/// admin (`root`), made before the start so no one-time password is involved.
async fn instance(workdir: &Path, extra: &[(&str, &str)]) -> Instance {
    let database = format!("sqlite://{}", workdir.join("switchboard.db").display());
    let store = store::connect(&database, &ConnectOptions::default()).await.expect("create the database");
    for (name, role) in [("anna", Role::Agent), ("boris", Role::Agent), ("root", Role::Admin)] {
        agents::create_agent(&*store, name, PASSWORD, role, 0).await.expect("create an agent");
    }
    store.close().await;
    let mut env = BTreeMap::from([
        ("SWITCHBOARD_DATABASE_URL".to_owned(), database),
        ("SWITCHBOARD_MEDIA_DIR".to_owned(), workdir.join("media").display().to_string()),
        ("SWITCHBOARD_LOG".to_owned(), "warn".to_owned()),
    ]);
    for (variable, value) in extra {
        env.insert((*variable).to_owned(), (*value).to_owned());
    }
    let mut instance = Instance::new("abused", workdir, env);
    instance.start().await;
    instance
}

const PASSWORD: &str = "correct horse battery staple";

/// The resident set of a process, in kilobytes, from `/proc`.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).expect("a number of kB")
}

fn files_under(dir: &Path) -> (usize, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0) };
    entries.flatten().fold((0, 0), |(count, bytes), entry| {
        let path = entry.path();
        if path.is_dir() {
            let (more, more_bytes) = files_under(&path);
            (count + more, bytes + more_bytes)
        } else {
            (count + 1, bytes + entry.metadata().map_or(0, |meta| meta.len()))
        }
    })
}

#[tokio::test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs /proc to read the process's memory")]
async fn oversized_made_up_logins_do_not_grow_the_process() {
    let _turn = take_turn().await;
    let workdir = tempfile::tempdir().unwrap();
    let server = instance(workdir.path(), &[]).await;
    let client = reqwest::Client::new();
    let pid = server.pid().expect("running");
    // Warm up: the first requests allocate the server's buffers and pools for good.
    let junk = |n: usize| -> String {
        (0..30 * 1024).map(|i| char::from(b'a' + ((i * 7 + n * 13) % 26) as u8)).collect()
    };
    for n in 0..50 {
        let name = junk(n);
        let _ = client
            .post(server.url("/console/login"))
            .header(COOKIE, format!("sb_login={name}"))
            .form(&[("csrf", name.as_str()), ("name", name.as_str()), ("password", "x")])
            .send()
            .await;
    }
    let before = rss_kb(pid);
    let mut statuses = BTreeMap::new();
    for n in 0..5000 {
        let name = junk(n + 1000);
        let response = client
            .post(server.url("/console/login"))
            .header(COOKIE, format!("sb_login={name}"))
            .form(&[("csrf", name.as_str()), ("name", name.as_str()), ("password", "x")])
            .send()
            .await
            .expect("the server answers");
        *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
    }
    let after = rss_kb(pid);
    let growth_mb = after.saturating_sub(before) as f64 / 1024.0;
    println!(
        "5000 login attempts with 30 KB made-up names: RSS {before} kB -> {after} kB (+{growth_mb:.1} MB); statuses {statuses:?}"
    );
    assert!(growth_mb < 10.0, "the process grew by {growth_mb:.1} MB");
    assert_eq!(statuses.get(&401), Some(&5000), "every made-up name is simply refused: {statuses:?}");

    // A real agent still signs in afterwards: nothing of theirs was spent.
    let page = client.get(server.url("/console/login")).send().await.unwrap();
    let login_cookie = cookie_of(&page, "sb_login").expect("a login cookie");
    let csrf = csrf_in(&page.text().await.unwrap());
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let signed_in = no_redirects
        .post(server.url("/console/login"))
        .header(COOKIE, login_cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "anna"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
}

/// A visitor of the web chat: its cookie, from `/chat/start`.
async fn visitor(client: &reqwest::Client, server: &Instance) -> String {
    let started = client.post(server.url("/chat/start")).send().await.expect("start a visitor");
    assert_eq!(started.status(), StatusCode::OK);
    cookie_of(&started, "sb_visitor").expect("a visitor cookie")
}

async fn upload(
    client: &reqwest::Client,
    server: &Instance,
    cookie: &str,
    id: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().text("id", id.to_owned()).part(
        "photo",
        reqwest::multipart::Part::bytes(bytes).file_name("photo.png").mime_str("image/png").unwrap(),
    );
    client
        .post(server.url("/chat/photos"))
        .header(COOKIE, cookie)
        .multipart(form)
        .send()
        .await
        .expect("an answer")
}

#[tokio::test]
async fn random_bytes_behind_an_image_header_never_reach_the_disk() {
    let _turn = take_turn().await;
    let workdir = tempfile::tempdir().unwrap();
    // Generous hourly allowances, so the decoding is what stops each upload.
    let server = instance(
        workdir.path(),
        &[
            ("SWITCHBOARD_WEBCHAT_PHOTOS_PER_HOUR", "1000"),
            ("SWITCHBOARD_WEBCHAT_PHOTO_MB_PER_HOUR", "10000"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let header = images::png(64, 64, 7)[..33].to_vec();
    let mut statuses = BTreeMap::new();
    let mut cookie = String::new();
    for n in 0..100u32 {
        // A new visitor every 10 uploads, as the original attack did.
        if n % 10 == 0 {
            cookie = visitor(&client, &server).await;
        }
        let mut forged = header.clone();
        forged.extend(
            (0..512 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761).rotate_left(n % 31) >> 11) as u8),
        );
        let answer = upload(&client, &server, &cookie, &format!("forged-{n:04}"), forged).await;
        *statuses.entry(answer.status().as_u16()).or_insert(0) += 1;
    }
    let (files, bytes) = files_under(&workdir.path().join("media"));
    println!(
        "100 uploads of a PNG header + 512 KB of random bytes: statuses {statuses:?}; media folder: {files} files, {bytes} bytes"
    );
    assert_eq!(bytes, 0, "nothing was written");
    assert_eq!(statuses.get(&415), Some(&100), "{statuses:?}");

    // A real photo from the same kind of visitor is still taken, stripped and stored.
    let cookie = visitor(&client, &server).await;
    let answer = upload(&client, &server, &cookie, "real-photo-01", images::png(64, 64, 7)).await;
    assert_eq!(answer.status(), StatusCode::OK, "{}", answer.text().await.unwrap_or_default());
    assert_eq!(files_under(&workdir.path().join("media")).0, 1);
}

#[tokio::test]
async fn photo_uploads_are_limited_per_visitor_and_address_per_hour() {
    let _turn = take_turn().await;
    let workdir = tempfile::tempdir().unwrap();
    let server = instance(workdir.path(), &[("SWITCHBOARD_WEBCHAT_PHOTOS_PER_HOUR", "3")]).await;
    let client = reqwest::Client::new();
    let cookie = visitor(&client, &server).await;
    let mut codes = Vec::new();
    for n in 0..5u8 {
        let answer = upload(&client, &server, &cookie, &format!("photo-{n:04}"), images::png(8, 8, n)).await;
        codes.push(answer.status().as_u16());
    }
    println!("five photos from one visitor with 3 per hour allowed: {codes:?}");
    assert_eq!(codes, [200, 200, 200, 429, 429]);
    // A new visitor from the same address is limited by the address's allowance too.
    let other = visitor(&client, &server).await;
    let answer = upload(&client, &server, &other, "photo-0009", images::png(8, 8, 9)).await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.json::<serde_json::Value>().await.unwrap()["error"], "too_many_photos");
    assert_eq!(files_under(&workdir.path().join("media")).0, 3);
}

#[tokio::test]
async fn new_visitors_per_address_are_limited() {
    let _turn = take_turn().await;
    let workdir = tempfile::tempdir().unwrap();
    let server = instance(workdir.path(), &[("SWITCHBOARD_WEBCHAT_VISITORS_PER_HOUR", "5")]).await;
    let client = reqwest::Client::new();
    let mut codes = Vec::new();
    for n in 0..8 {
        // Claiming to be someone else changes nothing: no proxy is trusted here.
        let start =
            client.post(server.url("/chat/start")).header("x-forwarded-for", format!("198.51.100.{n}"));
        codes.push(start.send().await.unwrap().status().as_u16());
    }
    assert_eq!(codes, [200, 200, 200, 200, 200, 429, 429, 429]);
}

#[tokio::test]
async fn half_open_connections_leave_health_checks_answering() {
    let _turn = take_turn().await;
    let workdir = tempfile::tempdir().unwrap();
    let server = instance(workdir.path(), &[("SWITCHBOARD_HEADER_TIMEOUT_SECS", "2")]).await;
    let mut held = Vec::new();
    for n in 0..500 {
        let mut socket = tokio::net::TcpStream::connect(server.address).await.expect("connect");
        // A request line and one header, then silence: the classic slowloris. Every fifth
        // connection sends nothing at all.
        if n % 5 != 0 {
            socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        }
        held.push(socket);
    }
    let client = reqwest::Client::new();
    let started = Instant::now();
    let answer = client
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("/healthz answers");
    let latency = started.elapsed();
    assert_eq!(answer.status(), StatusCode::OK);
    println!("/healthz with 500 half-open connections held: answered in {latency:?}");

    // The server closes them once the header timeout passes: each read ends (EOF or reset).
    let mut closed = 0;
    for socket in &mut held {
        let mut buffer = [0u8; 256];
        let read =
            tokio::time::timeout(Duration::from_secs(30), tokio::io::AsyncReadExt::read(socket, &mut buffer))
                .await;
        if matches!(read, Ok(Ok(_)) | Ok(Err(_))) {
            closed += 1;
        }
    }
    println!("half-open connections closed by the server: {closed} of 500");
    assert_eq!(closed, 500);

    // A keep-alive connection left idle after its answer is closed the same way.
    let mut idle = tokio::net::TcpStream::connect(server.address).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = vec![0u8; 1024];
    let read = tokio::io::AsyncReadExt::read(&mut idle, &mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    let closed_after = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match tokio::io::AsyncReadExt::read(&mut idle, &mut answer).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert_eq!(closed_after, Ok(true), "an idle keep-alive connection is closed");
}

#[tokio::test]
async fn a_second_agent_can_neither_move_nor_answer_a_colleagues_ticket() {
    let _turn = take_turn().await;
    let workdir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", workdir.path().join("switchboard.db").display());
    let server = instance(workdir.path(), &[]).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // A customer asks for a person with a real question; anna takes it.
    let cookie = visitor(&client, &server).await;
    let said = client
        .post(server.url("/chat/messages"))
        .header(COOKIE, &cookie)
        .json(&serde_json::json!({ "id": "message-0001", "text": "I want to talk to a person about order 12345678" }))
        .send()
        .await
        .unwrap();
    assert_eq!(said.status(), StatusCode::OK);
    let store = store::connect(&database, &ConnectOptions::default()).await.unwrap();
    let tokens = async |name: &str| {
        let agent = store.agent_by_name(name).await.unwrap().expect("agent");
        sessions::create_api_token(&*store, name, agent.id, 0, None).await.unwrap()
    };
    let (anna, boris) = (tokens("anna").await, tokens("boris").await);
    let ticket = client
        .get(server.url("/api/tickets"))
        .bearer_auth(&anna)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["tickets"][0]["id"]
        .as_i64()
        .expect("the customer's ticket");
    let claimed = client
        .post(server.url(&format!("/api/tickets/{ticket}/reply")))
        .bearer_auth(&anna)
        .json(&serde_json::json!({ "text": "Hello, I'm looking into it." }))
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), StatusCode::OK);
    let before = store.ticket(ticket).await.unwrap().unwrap();

    // boris, through the API.
    let api_reply = client
        .post(server.url(&format!("/api/tickets/{ticket}/reply")))
        .bearer_auth(&boris)
        .json(&serde_json::json!({ "text": "Let me take over." }))
        .send()
        .await
        .unwrap();
    let api_resolve = client
        .post(server.url(&format!("/api/tickets/{ticket}/resolve")))
        .bearer_auth(&boris)
        .send()
        .await
        .unwrap();
    println!("API as boris: reply {}, resolve {}", api_reply.status(), api_resolve.status());
    assert_eq!(api_reply.status(), StatusCode::CONFLICT, "taken by anna");
    assert_eq!(api_resolve.status(), StatusCode::FORBIDDEN);

    // boris, through the console: every button on anna's ticket.
    let page = client.get(server.url("/console/login")).send().await.unwrap();
    let login_cookie = cookie_of(&page, "sb_login").unwrap();
    let csrf = csrf_in(&page.text().await.unwrap());
    let signed_in = client
        .post(server.url("/console/login"))
        .header(COOKIE, login_cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "boris"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let session = cookie_of(&signed_in, "sb_session").expect("boris is signed in");
    let queue = client.get(server.url("/console/queue")).header(COOKIE, &session).send().await.unwrap();
    let csrf = csrf_in(&queue.text().await.unwrap());
    for action in ["release", "transfer", "resolve", "reply"] {
        let answer = client
            .post(server.url(&format!("/console/tickets/{ticket}/{action}")))
            .header(COOKIE, &session)
            .form(&[("csrf", csrf.as_str()), ("text", "mine now"), ("to_agent", "boris")])
            .send()
            .await
            .unwrap();
        let location =
            answer.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        println!("console as boris: {action} -> {} {location}", answer.status());
        assert!(location.ends_with("notice=not_yours#latest"), "{action}: {location}");
    }
    let after = store.ticket(ticket).await.unwrap().unwrap();
    assert_eq!(after.ticket.status, before.ticket.status);
    assert_eq!(after.ticket.assigned_agent.as_deref(), Some("anna"));
    assert_eq!(after.messages.len(), before.messages.len(), "nobody wrote to the customer");
    store.close().await;
}
