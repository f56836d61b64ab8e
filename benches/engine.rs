//! `cargo bench --bench engine [-- --conversations N --events-per-conversation M]`
//!
//! Runs the engine benchmark on a fresh SQLite file (synchronous=FULL), and on a fresh
//! PostgreSQL database when `SWITCHBOARD_BENCH_POSTGRES` names a server
//! (`postgres://postgres@127.0.0.1:5432/postgres`); that database is dropped afterwards.

use clap::Parser;
use switchboard::bench::{self, BenchArgs};

#[derive(Parser)]
struct Cli {
    #[arg(long, default_value_t = 1000)]
    conversations: usize,
    #[arg(long, default_value_t = 20)]
    events_per_conversation: usize,
    #[arg(long, default_value_t = 512)]
    max_batch: usize,
    /// Also run with synchronous=NORMAL, for comparison.
    #[arg(long)]
    relaxed: bool,
    /// `cargo bench` passes `--bench`; accepted and ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let args = |url: &str, relaxed: bool| BenchArgs {
        conversations: cli.conversations,
        events_per_conversation: cli.events_per_conversation,
        max_batch: cli.max_batch,
        relaxed_durability: relaxed,
        ..BenchArgs::for_database(url)
    };

    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    println!("{}\n", bench::run(&args(&sqlite, false)).await?);
    if cli.relaxed {
        let relaxed = format!("sqlite://{}", dir.path().join("bench-relaxed.db").display());
        println!("{}\n", bench::run(&args(&relaxed, true)).await?);
    }

    match std::env::var("SWITCHBOARD_BENCH_POSTGRES") {
        Ok(server) => {
            let name = format!("switchboard_bench_{}", uuid::Uuid::new_v4().simple());
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
            let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
            let outcome = bench::run(&args(&format!("{base}/{name}"), false)).await;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut admin)
                .await?;
            println!("{}", outcome?);
        }
        Err(_) => println!("PostgreSQL: skipped (set SWITCHBOARD_BENCH_POSTGRES to a server URL)"),
    }
    Ok(())
}
