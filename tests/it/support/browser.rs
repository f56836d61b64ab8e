//! Headless Chromium driven through chromedriver (WebDriver) with fantoccini. Each
//! [`Browser`] is one person: its own chromedriver session and a fresh profile folder, so
//! cookies are never shared between the customer and the agent.
//!
//! Tests that use it carry `#[cfg_attr(not(switchboard_test_browser), ignore = "...")]`: they
//! show up as ignored unless `SWITCHBOARD_TEST_BROWSER` was set for the build (`build.rs`), and
//! with it set, a missing Chromium or chromedriver fails them instead of skipping them. (CI
//! installs both: `apt-get install chromium chromium-driver`.)

use fantoccini::{Client, ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long one step may take before the test gives up (a bound, not an assertion).
const STEP_LIMIT: Duration = Duration::from_secs(60);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
    })
}

/// A running chromedriver; ended when dropped.
pub struct Driver {
    url: String,
    chromium: PathBuf,
    _process: Child,
}

impl Driver {
    /// Starts chromedriver; panics when Chromium or chromedriver is not on `PATH`.
    pub async fn start() -> Driver {
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"])
            .expect("SWITCHBOARD_TEST_BROWSER is set but Chromium is not on PATH");
        let chromedriver = find_program(&["chromedriver"])
            .expect("SWITCHBOARD_TEST_BROWSER is set but chromedriver is not on PATH");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().unwrap().port()
        };
        let process = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let address = format!("127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(&address).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not start listening");
        Driver { url: format!("http://{address}"), chromium, _process: process }
    }

    /// A new browser with an empty profile.
    pub async fn browser(&self) -> Browser {
        self.browser_speaking("en-US").await
    }

    /// A new browser whose user prefers `language` (`ru-RU`): its `navigator.languages` and
    /// its `Accept-Language` header.
    pub async fn browser_speaking(&self, language: &str) -> Browser {
        let profile = tempfile::tempdir().expect("a profile folder");
        let args = vec![
            format!("--lang={language}"),
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": self.chromium.display().to_string(),
                "args": args,
                "prefs": { "intl.accept_languages": language },
            }),
        );
        // Two crypto providers are compiled in (ring and aws-lc-rs); rustls wants one chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a WebDriver session");
        Browser { client, _profile: profile }
    }
}

pub struct Browser {
    pub client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(STEP_LIMIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("{css} did not appear: {error}"))
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap_or_else(|error| panic!("click {css}: {error}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("type into {css}: {error}"));
    }

    /// Runs `expression` (JavaScript) until it is truthy.
    pub async fn wait_until(&self, what: &str, expression: &str) {
        let script = format!("return Boolean({expression});");
        let deadline = tokio::time::Instant::now() + STEP_LIMIT;
        loop {
            let value = self.client.execute(&script, Vec::new()).await.expect("script runs");
            if value.as_bool() == Some(true) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "gave up waiting: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn value(&self, expression: &str) -> serde_json::Value {
        self.client.execute(&format!("return {expression};"), Vec::new()).await.expect("script runs")
    }

    /// Saves a PNG of the page under `target/screenshots/` (a test artifact).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.expect("a screenshot")).unwrap();
        path
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A real, displayable PNG (solid colour), built here: zlib "stored" blocks need no
/// compressor, and CRC-32 and Adler-32 are a few lines each.
pub fn solid_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    // Each row: filter type 0 (none), then the pixels.
    let row: Vec<u8> = std::iter::once(0).chain((0..width).flat_map(|_| rgb)).collect();
    let raw: Vec<u8> = (0..height).flat_map(|_| row.iter().copied()).collect();
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (index, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(index + 1 == blocks.len()));
        let length = block.len() as u16;
        zlib.extend_from_slice(&length.to_le_bytes());
        zlib.extend_from_slice(&(!length).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], ihdr), (&b"IDAT"[..], zlib), (&b"IEND"[..], Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&data);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
