//! Operations: flood control, the privacy commands, readiness, the first start's admin, and
//! graceful shutdown of the real binary. Engine-level tests run on a fresh SQLite file, and
//! again on PostgreSQL when `SWITCHBOARD_TEST_POSTGRES` is set.

mod first_start;
mod flood;
mod privacy;
mod readiness;
mod shutdown;
