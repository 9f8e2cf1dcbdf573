//! Terminating signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT), caught from the start of a command to
//! its end so that none ends repool where it stands. Until a command claims them, a signal stops
//! the command before anything is changed (`app`); once it has (a run about to start, the
//! dashboard), the claimant stops in order: the call in flight finishes and is journaled.

use crate::errors::Exit;
use std::sync::OnceLock;
use tokio::sync::watch;

/// A signal that asks repool to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C at a terminal (outside the dashboard, where it is a key).
    Interrupt,
    Terminate,
    /// The terminal went away.
    Hangup,
    Quit,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
        }
    }

    /// The command line's exit code: Ctrl-C is the operator cancelling (130); any other signal
    /// interrupts (3). Either way `repool resume` continues a run that had begun.
    pub fn exit(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Cancelled,
            _ => Exit::Interrupted,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct State {
    /// The first signal received.
    signal: Option<Signal>,
    /// Signals received so far.
    count: u32,
    claimed: bool,
}

fn state() -> &'static watch::Sender<State> {
    static STATE: OnceLock<watch::Sender<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        let (tx, _) = watch::channel(State::default());
        tx
    })
}

#[cfg(unix)]
const CAUGHT: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Holds the signals back from the first instant of `main` (pending, not ending repool) until
/// `install` catches them. Threads started meanwhile (the runtime's) keep them blocked.
pub fn hold() {
    #[cfg(unix)]
    mask(libc::SIG_BLOCK);
}

#[cfg(unix)]
fn mask(how: libc::c_int) {
    // SAFETY: a sigset_t filled by sigemptyset/sigaddset, passed by pointer to pthread_sigmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in CAUGHT {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Starts catching the signals (once; later calls do nothing), then lets in any `hold` held
/// back. Needs the runtime's context.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let kinds = [
                (SignalKind::interrupt(), Signal::Interrupt),
                (SignalKind::terminate(), Signal::Terminate),
                (SignalKind::hangup(), Signal::Hangup),
                (SignalKind::quit(), Signal::Quit),
            ];
            for (kind, which) in kinds {
                match signal(kind) {
                    Ok(mut stream) => {
                        tokio::spawn(async move {
                            while stream.recv().await.is_some() {
                                received(which);
                            }
                        });
                    }
                    Err(e) => tracing::warn!("cannot catch {}: {e}", which.name()),
                }
            }
            mask(libc::SIG_UNBLOCK);
        }
        #[cfg(not(unix))]
        tokio::spawn(async {
            while tokio::signal::ctrl_c().await.is_ok() {
                received(Signal::Interrupt);
            }
        });
    });
}

fn received(signal: Signal) {
    tracing::warn!("received {}", signal.name());
    state().send_modify(|s| {
        s.signal.get_or_insert(signal);
        s.count += 1;
    });
}

/// Waits for a signal nobody has claimed (forever once one is claimed).
pub async fn unclaimed() -> Signal {
    let mut rx = state().subscribe();
    let state =
        *rx.wait_for(|s| s.signal.is_some() && !s.claimed).await.expect("the state lives as long as the process");
    state.signal.expect("waited for a signal")
}

/// From now on signals are the caller's to handle: `app` no longer stops the command on one.
pub fn claim() -> Claim {
    install();
    state().send_modify(|s| s.claimed = true);
    Claim { rx: state().subscribe() }
}

/// Signals, claimed: see `claim`.
pub struct Claim {
    rx: watch::Receiver<State>,
}

impl Claim {
    /// The first signal, as soon as there is one (at once if it came before the claim).
    pub async fn received(&mut self) -> Signal {
        let state = *self.rx.wait_for(|s| s.signal.is_some()).await.expect("the state lives as long as the process");
        state.signal.expect("waited for a signal")
    }

    /// The first signal, if one came.
    pub fn signal(&self) -> Option<Signal> {
        self.rx.borrow().signal
    }

    /// Once another signal comes while an orderly stop still waits (a call that hangs): ends
    /// repool at once with `exit` (said as `errors::fail` says it). What finished is journaled;
    /// `repool resume` redoes the step in flight, as after a crash.
    pub async fn exit_on_another(mut self, exit: Exit, json: bool) {
        let seen = self.rx.borrow().count;
        let _ = self.rx.wait_for(|s| s.count > seen).await;
        let message = "stopped at once by another signal; `repool resume` redoes the step in flight";
        crate::errors::fail(exit, message, json);
        std::process::exit(exit as i32);
    }
}
