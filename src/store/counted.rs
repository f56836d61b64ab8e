//! Counting a transaction's statements, for the engine's timeline (`engine::timeline`).

use std::ops::{Deref, DerefMut};

/// A transaction that counts the statements sent through it. Every statement of `shared`
/// and of the backends takes the connection with `&mut *self.tx`, that is through
/// [`DerefMut`] once, so counting those calls counts statements without touching each one.
/// Round trips a backend makes besides its statements (`BEGIN`, a pool's check of the
/// connection) are where the count starts.
pub(super) struct Counted<T> {
    inner: T,
    count: u64,
}

impl<T> Counted<T> {
    pub(super) fn new(inner: T, count: u64) -> Counted<T> {
        Counted { inner, count }
    }

    pub(super) fn count(&self) -> u64 {
        self.count
    }

    pub(super) fn inner(&self) -> &T {
        &self.inner
    }

    pub(super) fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: DerefMut> Deref for Counted<T> {
    type Target = T::Target;

    fn deref(&self) -> &T::Target {
        &self.inner
    }
}

impl<T: DerefMut> DerefMut for Counted<T> {
    fn deref_mut(&mut self) -> &mut T::Target {
        self.count += 1;
        &mut self.inner
    }
}
