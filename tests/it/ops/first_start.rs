//! The first start of the real binary: the `admin` it creates gets a one-time password in a
//! file only its user may read, never in the log; signed in with it, the console lets the admin
//! do nothing but choose their own password, and the file goes once they have.

use crate::support::forms::{cookie_of, csrf_in};
use crate::support::instance::{self, Instance};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use std::collections::BTreeMap;

fn location(response: &reqwest::Response) -> &str {
    response.headers().get(LOCATION).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn the_first_admin_gets_a_private_one_time_password_and_must_replace_it() {
    let _turn = instance::take_turn().await;
    let workdir = tempfile::tempdir().unwrap();
    let data = workdir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let env = BTreeMap::from([
        ("SWITCHBOARD_DATABASE_URL".to_owned(), format!("sqlite://{}", data.join("support.db").display())),
        ("SWITCHBOARD_LOG".to_owned(), "info".to_owned()),
    ]);
    let mut server = Instance::new("first-start", workdir.path(), env);
    server.start().await;

    let file = data.join("admin-one-time-password.txt");
    let password = std::fs::read_to_string(&file).expect("the password file, beside the database");
    let password = password.trim();
    assert_eq!(password.len(), 20, "{password:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by the server's user only: {mode:o}");
    }
    assert!(server.log_contains(&file.display().to_string()), "the log says where: {}", server.log_tail(20));
    assert!(!server.log_contains(password), "the password is not logged: {}", server.log_tail(20));

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = http.get(server.url("/console/login")).send().await.unwrap();
    let login_cookie = cookie_of(&login, "sb_login").expect("a login cookie");
    let csrf = csrf_in(&login.text().await.unwrap());
    let signed_in = http
        .post(server.url("/console/login"))
        .header(COOKIE, &login_cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "admin"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let session = cookie_of(&signed_in, "sb_session").expect("a session cookie");

    // Every other page sends the admin to the password page, forms included.
    for path in ["/console/queue", "/console/agents", "/console/tokens", "/console/dashboard.csv"] {
        let response = http.get(server.url(path)).header(COOKIE, &session).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/console/password", "{path}");
    }
    let page = http.get(server.url("/console/password")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"must-change\""), "{page}");
    let csrf = csrf_in(&page);
    let new_agent = [("csrf", csrf.as_str()), ("name", "mallory"), ("password", "long enough password")];
    let refused = http
        .post(server.url("/console/agents"))
        .header(COOKIE, &session)
        .form(&new_agent)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&refused), "/console/password", "no admin action before the change");

    let keep_it = [("csrf", csrf.as_str()), ("current", password), ("new", password), ("repeat", password)];
    let kept =
        http.post(server.url("/console/password")).header(COOKIE, &session).form(&keep_it).send().await;
    assert_eq!(location(&kept.unwrap()), "/console/password?notice=same_password");
    let own = "my very own password";
    let change = [("csrf", csrf.as_str()), ("current", password), ("new", own), ("repeat", own)];
    let changed = http
        .post(server.url("/console/password"))
        .header(COOKIE, &session)
        .form(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&changed), "/console/queue?notice=password_changed");
    assert!(!file.exists(), "the one-time password file is removed once used");
    let queue = http.get(server.url("/console/queue")).header(COOKIE, &session).send().await.unwrap();
    assert_eq!(queue.status(), StatusCode::OK, "the console is open now");

    // A second start finds an agent and hands nothing over.
    server.terminate().await;
    server.start().await;
    assert!(!file.exists());
    assert_eq!(server.log_count("created the agent `admin`"), 1, "{}", server.log_tail(20));
    server.terminate().await;
    let users =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("support.db").display())).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM agents").fetch_all(&users).await.unwrap();
    users.close().await;
    assert_eq!(names, ["admin"], "mallory was never created");
}
