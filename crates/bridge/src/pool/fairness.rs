//! Fair shares of the logins between users ([`Turns`]): start-time fair queueing over switches.
//!
//! A login is what a request that finds no terminal on its account costs everyone else, so the
//! users waiting take turns at them: the user whose last switch is oldest gets the next one,
//! however many accounts each has waiting. One user with many accounts cannot crowd out another
//! with one.

use mt5::Session;
use std::collections::HashMap;
use uuid::Uuid;

/// A waiting user's share of the terminals' logins.
struct UserTurn {
    /// Its requests waiting now.
    waiting: usize,
    /// The switch count when the user last got a terminal switched to one of its accounts (or,
    /// arriving, the lowest pass of the users waiting then). The user with the lowest pass gets
    /// the next switch: users take turns, however many accounts each has waiting (start-time
    /// fair queueing over logins).
    pass: u64,
}

/// The users with requests waiting and their turns. A user is `None` for callers that are no
/// user (benchmarks, tools), which count as one user of their own.
#[derive(Default)]
pub(super) struct Turns {
    /// Only users with waiters are here.
    users: HashMap<Option<Uuid>, UserTurn>,
    /// Switches granted so far.
    switches: u64,
}

impl Turns {
    /// A request of `user` joins the queue; a user who had none waiting joins the current round.
    pub(super) fn joined(&mut self, user: Option<Uuid>) {
        let round = self
            .users
            .values()
            .map(|u| u.pass)
            .min()
            .unwrap_or(self.switches);
        self.users
            .entry(user)
            .or_insert(UserTurn {
                waiting: 0,
                pass: round,
            })
            .waiting += 1;
    }

    /// A request of `user` left the queue (granted, refused or abandoned).
    pub(super) fn left(&mut self, user: Option<Uuid>) {
        if let Some(u) = self.users.get_mut(&user) {
            u.waiting = u.waiting.saturating_sub(1);
            if u.waiting == 0 {
                self.users.remove(&user);
            }
        }
    }

    /// A terminal switches (logs in) for a request of `user`: its turn is taken, the others'
    /// come first.
    pub(super) fn switched(&mut self, user: Option<Uuid>) {
        self.switches += 1;
        let pass = self.switches;
        if let Some(u) = self.users.get_mut(&user) {
            u.pass = pass;
        }
    }

    /// Requests of `user` waiting now (the per-user queue limit).
    pub(super) fn waiting(&self, user: Option<Uuid>) -> usize {
        self.users.get(&user).map_or(0, |u| u.waiting)
    }

    /// Which starving account gets the next switch: that of the user with the lowest pass (users
    /// take turns), and within a user the one that has waited longest (`starving` is in arrival
    /// order). `user_of` names the user of an account's first live waiter.
    pub(super) fn next_starving<'a>(
        &self,
        starving: &'a [Session],
        user_of: impl Fn(&Session) -> Option<Option<Uuid>>,
    ) -> Option<&'a Session> {
        starving
            .iter()
            .enumerate()
            .min_by_key(|(i, a)| {
                let pass = user_of(a)
                    .and_then(|u| self.users.get(&u))
                    .map_or(u64::MAX, |u| u.pass);
                (pass, *i)
            })
            .map(|(_, a)| a)
    }
}
