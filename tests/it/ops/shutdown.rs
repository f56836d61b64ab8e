//! Graceful shutdown of the real binary: SIGTERM while customers are writing ends with exit
//! code 0 and every acknowledged message in the database; a shutdown that cannot finish in its
//! bound exits anyway, with a non-zero code and a log line saying so.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Generous: the machine is shared, and these waits only guard against a hang.
const DEADLINE: Duration = Duration::from_secs(90);

/// `switchboard serve` on a free port, with its output collected.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SWITCHBOARD_DATABASE_URL", format!("sqlite://{}", dir.join("support.db").display()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (lines, listening) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = collected.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let started = Instant::now();
        let base = loop {
            let line =
                listening.recv_timeout(DEADLINE.saturating_sub(started.elapsed())).unwrap_or_else(|_| {
                    panic!("the server never said where it listens: {}", stderr.lock().unwrap())
                });
            if let Some(address) = line.strip_prefix("Switchboard is listening on ") {
                break address.trim().to_owned();
            }
        };
        Server { child, base, stderr }
    }

    fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM");
    }

    /// Waits for the process to exit by itself (killing it only if it hangs past the deadline).
    fn wait(mut self) -> (ExitStatus, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread may still be copying the last lines.
                std::thread::sleep(Duration::from_millis(100));
                let stderr = self.stderr.lock().unwrap().clone();
                return (status, stderr);
            }
            if started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!("the server did not exit after SIGTERM: {}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn new_visitor(http: &reqwest::Client, base: &str) -> String {
    let response = http.post(format!("{base}/chat/start")).send().await.expect("the server answers");
    let set_cookie = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The client ids (the part after `visitor:`) of every logged customer message, with counts.
async fn logged_client_ids(database: &Path) -> std::collections::HashMap<String, usize> {
    let url = format!("sqlite://{}", database.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM messages WHERE event_id IS NOT NULL")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    let mut counts = std::collections::HashMap::new();
    for id in ids {
        let client = id.rsplit_once(':').map_or(id.as_str(), |(_, client)| client).to_owned();
        *counts.entry(client).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_acknowledged_work_finish_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("SWITCHBOARD_LOG", "info")]);
    let base = server.base.clone();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();

    let mut visitors = Vec::new();
    for _ in 0..6 {
        visitors.push(new_visitor(&http, &base).await);
    }
    // An open event stream never ends by itself; shutdown must end it.
    let events = http
        .get(format!("{base}/chat/events"))
        .header(reqwest::header::COOKIE, &visitors[0])
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let stream = tokio::spawn(async move {
        let mut events = events;
        while let Ok(Some(_)) = events.chunk().await {}
    });

    // Customers write, each one message after another, until the server stops taking them.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for (n, cookie) in visitors.into_iter().enumerate() {
        let (http, base, acknowledged, count) =
            (http.clone(), base.clone(), Arc::clone(&acknowledged), Arc::clone(&count));
        senders.push(tokio::spawn(async move {
            for m in 0..15 {
                let id = format!("visitor{n}-message{m:02}");
                let sent = http
                    .post(format!("{base}/chat/messages"))
                    .header(reqwest::header::COOKIE, &cookie)
                    .json(&serde_json::json!({"id": id, "text": "/help"}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        acknowledged.lock().unwrap().push(id);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    // Refused or cut off: not acknowledged, so a platform would send it again.
                    _ => return,
                }
            }
        }));
    }
    let started = Instant::now();
    while count.load(Ordering::SeqCst) < 12 {
        assert!(started.elapsed() < DEADLINE, "the server acknowledged too little");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.terminate();
    for sender in senders {
        sender.await.unwrap();
    }
    tokio::time::timeout(DEADLINE, stream).await.expect("the event stream ended").unwrap();

    let (status, stderr) = tokio::task::spawn_blocking(move || server.wait()).await.unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("shut down cleanly"), "{stderr}");

    let acknowledged = acknowledged.lock().unwrap().clone();
    let logged = logged_client_ids(&dir.path().join("support.db")).await;
    for id in &acknowledged {
        assert_eq!(logged.get(id), Some(&1), "{id} was acknowledged, so it is in the log exactly once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_past_its_bound_exits_anyway_with_an_error() {
    // A "VK API" that accepts connections and never answers: the outbox worker's delivery
    // round hangs in it, so the shutdown cannot finish.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_url = format!("http://{}", silent.local_addr().unwrap());
    let (called, first_call) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().map_while(Result::ok) {
            held.push(stream);
            let _ = called.send(());
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS", "1"),
            ("SWITCHBOARD_VK_TOKEN", "vk1.a.fake-community-token"),
            ("SWITCHBOARD_VK_GROUP_ID", "123456"),
            ("SWITCHBOARD_VK_MODE", "callback"),
            ("SWITCHBOARD_VK_CONFIRMATION", "confirmation_123456"),
            ("SWITCHBOARD_VK_SECRET", "secret_1234567890"),
            ("SWITCHBOARD_VK_API_URL", &api_url),
        ],
    );
    let message = serde_json::json!({
        "type": "message_new", "group_id": 123456, "event_id": "shutdown-1", "v": "5.199",
        "secret": "secret_1234567890",
        "object": {
            "message": {"peer_id": 2000, "from_id": 2000, "out": 0, "date": 1_700_000_000, "text": "/start"},
            "client_info": {"button_actions": ["text"], "keyboard": true, "inline_keyboard": false,
                "carousel": false, "lang_id": 3},
        },
    });
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/vk", server.base))
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!((response.status().as_u16(), response.text().await.unwrap()), (200, "ok".to_owned()));
    first_call.recv_timeout(DEADLINE).expect("the outbox worker calls the VK API");

    server.terminate();
    let (status, stderr) = tokio::task::spawn_blocking(move || server.wait()).await.unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not finish within 1s"), "{stderr}");
    // The acknowledged event was stored before any of this.
    assert_eq!(logged_client_ids(&dir.path().join("support.db")).await.len(), 1);
}
