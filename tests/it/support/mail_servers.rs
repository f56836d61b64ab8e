//! Real mail servers for the email tests, each test its own, on free ports, in a temporary
//! folder: Dovecot (Debian's `dovecot-imapd`) serving IMAP with IDLE over maildirs, and an SMTP
//! server (`smtp_relay.py`, Debian's `python3-aiosmtpd`) that hands every letter it accepts to
//! Dovecot's delivery agent (`dovecot-lda`). Letters from customers are delivered the same way,
//! so Dovecot's IDLE sees them as it sees any new mail, also while it is stopped (the restart
//! test). Every account's password is [`PASSWORD`].
//!
//! Dovecot refuses to run its login processes as root: when the tests run as root it uses the
//! package's own `dovecot` and `dovenull` users (the mail folder is handed to `dovecot`);
//! otherwise everything runs as the current user.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const PASSWORD: &str = "test-mail-password";
const DOVECOT: &str = "/usr/sbin/dovecot";
const LDA: &str = "/usr/lib/dovecot/dovecot-lda";
/// Debian's Python, which has `python3-aiosmtpd` (a `python3` earlier on `PATH` may not).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

pub struct MailServers {
    dir: tempfile::TempDir,
    conf: PathBuf,
    pub imap_port: u16,
    pub smtp_port: u16,
    dovecot: Option<Child>,
    smtp: Child,
    /// Logins per user already waited for in Dovecot's log.
    logins: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port()
}

fn id_of(args: &[&str]) -> String {
    let output = std::process::Command::new("id").args(args).output().expect("`id` runs");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

impl MailServers {
    pub async fn start() -> MailServers {
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        std::fs::create_dir_all(&mail).unwrap();
        let imap_port = free_port();
        let root = id_of(&["-u"]) == "0";
        let (internal, login, mail_uid, mail_gid) = if root {
            // Dovecot's own users must reach the folder.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let uid: u32 = id_of(&["-u", "dovecot"]).parse().expect("the dovecot user exists");
            let gid: u32 = id_of(&["-g", "dovecot"]).parse().unwrap();
            std::os::unix::fs::chown(&mail, Some(uid), Some(gid)).unwrap();
            ("dovecot".to_owned(), "dovenull".to_owned(), "dovecot".to_owned(), "dovecot".to_owned())
        } else {
            let user = id_of(&["-un"]);
            (user.clone(), user, id_of(&["-u"]), id_of(&["-g"]))
        };
        let base = dir.path().display();
        let conf = dir.path().join("dovecot.conf");
        std::fs::write(
            &conf,
            format!(
                "base_dir = {base}/run\nstate_dir = {base}/state\nlog_path = {base}/dovecot.log\n\
                 protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
                 auth_mechanisms = plain login\nfirst_valid_uid = 1\n\
                 default_internal_user = {internal}\ndefault_internal_group = {internal}\n\
                 default_login_user = {login}\nmail_location = maildir:{base}/mail/%u\n\
                 passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}\n\
                 userdb {{\n  driver = static\n  args = uid={mail_uid} gid={mail_gid} home={base}/mail/%u\n}}\n\
                 service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
                 service anvil {{\n  chroot =\n}}\n"
            ),
        )
        .unwrap();

        let smtp_port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/smtp_relay.py");
        let mut smtp = Command::new(SYSTEM_PYTHON)
            .arg(script)
            .args([smtp_port.to_string().as_str(), PASSWORD, conf.to_str().unwrap(), LDA])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("smtp.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP server starts (python3-aiosmtpd)");
        let mut ready = BufReader::new(smtp.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), ready.next_line()).await;
        assert!(
            matches!(&line, Ok(Ok(Some(line))) if line == "ready"),
            "the SMTP server did not start: {line:?}"
        );

        let mut servers =
            MailServers { dir, conf, imap_port, smtp_port, dovecot: None, smtp, logins: Default::default() };
        servers.start_imap().await;
        servers
    }

    /// Starts Dovecot and waits for its greeting.
    pub async fn start_imap(&mut self) {
        assert!(self.dovecot.is_none(), "Dovecot is already running");
        let child = Command::new(DOVECOT)
            .args(["-F", "-c"])
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("Dovecot starts (dovecot-imapd)");
        self.dovecot = Some(child);
        let give_up = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port)).await {
                let mut greeting = String::new();
                let mut reader = BufReader::new(stream);
                if reader.read_line(&mut greeting).await.is_ok() && greeting.starts_with("* OK") {
                    return;
                }
            }
            let log = std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default();
            assert!(tokio::time::Instant::now() < give_up, "Dovecot did not start:\n{log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `user` logged in once more than when this was last called: the app's
    /// watcher is connected (its IDLE follows at once).
    pub async fn wait_for_login(&self, user: &str) {
        let seen = self.logins.lock().unwrap().get(user).copied().unwrap_or(0);
        let needle = format!("Login: user=<{user}>");
        let give_up = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let log = std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default();
            let count = log.matches(&needle).count();
            if count > seen {
                self.logins.lock().unwrap().insert(user.to_owned(), count);
                // The folder is selected and IDLE issued right after the login.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return;
            }
            assert!(tokio::time::Instant::now() < give_up, "{user} never logged in:\n{log}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops Dovecot as an administrator would (SIGTERM): every IMAP connection is cut.
    pub async fn stop_imap(&mut self) {
        let mut child = self.dovecot.take().expect("Dovecot is running");
        let pid = child.id().expect("a running child has an id");
        let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("Dovecot stops").unwrap();
    }

    /// Delivers a letter into `user`'s inbox, as a mail server's delivery agent does.
    pub async fn deliver(&self, user: &str, raw: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let mut lda = Command::new(LDA)
            .args(["-c", self.conf.to_str().unwrap(), "-d", user])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dovecot-lda runs");
        let mut stdin = lda.stdin.take().unwrap();
        stdin.write_all(raw).await.unwrap();
        drop(stdin);
        let output = lda.wait_with_output().await.unwrap();
        assert!(output.status.success(), "dovecot-lda: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Delivers a letter while Dovecot is stopped (its delivery agent needs the running
    /// server's user lookup): written into the maildir the way a delivery agent writes it,
    /// under `tmp/` and then renamed into `new/`, owned by the mail user.
    pub fn deliver_into_maildir(&self, user: &str, raw: &[u8]) {
        let maildir = self.dir.path().join("mail").join(user);
        let owner = std::fs::metadata(&maildir).expect("the mailbox exists");
        let name = format!("{}.test{}.localhost", std::process::id(), rand_suffix());
        let (tmp, new) = (maildir.join("tmp").join(&name), maildir.join("new").join(&name));
        std::fs::write(&tmp, raw).unwrap();
        use std::os::unix::fs::MetadataExt;
        std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid())).unwrap();
        std::fs::rename(&tmp, &new).unwrap();
    }

    /// Loses Dovecot's record of `user`'s UIDs (its `dovecot-uidlist` and indexes), as a
    /// rebuilt or migrated mailbox does: the folder comes back with a new UIDVALIDITY. Only
    /// while Dovecot is stopped.
    pub fn forget_uids(&self, user: &str) {
        assert!(self.dovecot.is_none(), "stop Dovecot first");
        for entry in std::fs::read_dir(self.dir.path().join("mail").join(user)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("dovecot") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }

    /// Every letter in `user`'s inbox, oldest first, read over IMAP.
    pub async fn letters(&self, user: &str) -> Vec<Vec<u8>> {
        use futures::TryStreamExt;
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port)).await.unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        let mut session = client.login(user, PASSWORD).await.map_err(|(error, _)| error).unwrap();
        let mailbox = session.select("INBOX").await.unwrap();
        let mut letters = Vec::new();
        if mailbox.exists > 0 {
            let fetched: Vec<_> =
                session.fetch("1:*", "BODY.PEEK[]").await.unwrap().try_collect().await.unwrap();
            letters = fetched.iter().filter_map(|fetch| fetch.body().map(<[u8]>::to_vec)).collect();
        }
        session.logout().await.unwrap();
        letters
    }

    /// Waits until `user` has `count` letters and checks no more arrived.
    pub async fn wait_letters(&self, user: &str, count: usize) -> Vec<Vec<u8>> {
        let give_up = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let letters = self.letters(user).await;
            if letters.len() >= count {
                assert_eq!(letters.len(), count, "more letters to {user} than expected");
                return letters;
            }
            assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {count} letters to {user}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

impl Drop for MailServers {
    fn drop(&mut self) {
        // Dovecot stops its own children on SIGTERM; the SMTP server ends with our kill.
        let _ = self.smtp.start_kill();
        if let Some(pid) = self.dovecot.as_ref().and_then(Child::id) {
            let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
}
