//! A real `switchboard serve` process, started from the binary Cargo built for the tests, on a
//! fixed 127.0.0.1 port so that it can be killed and started again at the same address.
//!
//! The environment is cleared and set from scratch, so nothing from the developer's shell or a
//! `.env` file leaks in (the working folder is a fresh temporary one). Output goes to a log file
//! per instance, printed when something goes wrong. Dropping an instance kills its process.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before the test gives up (a debug build trains its FAQ model on a
/// busy machine).
pub const START_DEADLINE: Duration = Duration::from_secs(90);

/// Tests that start processes take turns: each start trains the FAQ model, and several debug
/// processes training at once on a small machine would start too slowly for the deadlines.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Held by a test for as long as it runs processes.
pub async fn take_turn() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// How long a scenario of real processes (a crash run, several instances) may take, start to
/// checks, before it counts as hung; it normally takes a fraction.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(420);

/// Runs a scenario of real processes within [`SCENARIO_LIMIT`], and prints how long it took
/// (these runs are the slow part of the suite, worth watching).
pub async fn run_scenario(label: &str, started: Instant, run: impl Future<Output = ()>) {
    tokio::time::timeout(SCENARIO_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("{label} did not finish within {SCENARIO_LIMIT:?}"));
    println!("{label}: finished in {:.1} s", started.elapsed().as_secs_f64());
}

pub struct Instance {
    pub name: String,
    pub address: SocketAddr,
    env: BTreeMap<String, String>,
    workdir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// How many times the process was started.
    pub starts: usize,
}

impl Instance {
    /// An instance that will run with `env` (plus `SWITCHBOARD_BIND`) in `workdir`, on a free
    /// port chosen now and kept across restarts.
    pub fn new(name: &str, workdir: &Path, mut env: BTreeMap<String, String>) -> Instance {
        // Test machines' disks can be nearly full; the media floor is tested where it is meant.
        env.entry("SWITCHBOARD_MEDIA_MIN_FREE_MB".to_owned()).or_insert_with(|| "0".to_owned());
        let address = free_address();
        let log = workdir.join(format!("{name}.log"));
        Instance {
            name: name.to_owned(),
            address,
            env,
            workdir: workdir.to_owned(),
            log,
            child: None,
            starts: 0,
        }
    }

    /// Sets one more variable for the next starts.
    pub fn set_env(&mut self, variable: &str, value: impl Into<String>) {
        self.env.insert(variable.to_owned(), value.into());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Spawns the process (it keeps starting in the background; see [`Instance::wait_ready`]).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log =
            OpenOptions::new().create(true).append(true).open(&self.log).expect("open the instance log");
        let stderr = log.try_clone().expect("share the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .env_clear()
            .envs(&self.env)
            .env("SWITCHBOARD_BIND", self.address.to_string())
            .current_dir(&self.workdir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .expect("start the switchboard binary");
        self.child = Some(child);
        self.starts += 1;
    }

    /// Starts the process and waits until it answers `/healthz` (it serves HTTP only once the
    /// database, the texts and every channel are set up).
    pub async fn start(&mut self) {
        self.spawn();
        self.wait_ready().await;
    }

    pub async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                panic!("{} exited during start-up ({status}):\n{}", self.name, self.log_tail(60));
            }
            let answered = client
                .get(self.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if answered {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not answer /healthz within {START_DEADLINE:?}:\n{}",
                self.name,
                self.log_tail(60)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash or the OOM killer.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the process to finish its in-flight work and exit.
    pub async fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                eprintln!("{} ignored SIGTERM for 30 s; killing it", self.name);
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last `lines` lines of the instance's output.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether the instance's output so far contains `needle`.
    pub fn log_contains(&self, needle: &str) -> bool {
        self.log_count(needle) > 0
    }

    /// How often `needle` occurs in the instance's output so far.
    pub fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().matches(needle).count()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free port on 127.0.0.1, found by binding port 0. The instance binds it again itself; on
/// restart the address is reused (tokio's listener sets `SO_REUSEADDR`).
fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}
