//! Crash points for the fault tests.
//!
//! A process that reaches an armed crash point prints [`CRASH_POINT_LINE`]
//! with the point's name on stdout and then parks forever, so nothing after
//! the point happens. The test waits for that line and kills the process
//! with SIGKILL: the crash lands exactly at the point, with no cleanup, as a
//! power cut or an OOM kill would.

use std::io::Write as _;

/// The line a parked process prints: `crash-point <name> reached`.
pub const CRASH_POINT_LINE: &str = "crash-point";

/// The variable that arms a crash point by name.
pub const CRASH_POINT_VAR: &str = "EXAMPLE_CRASH_POINT";

/// The relay published a batch and got its confirms, but has not marked
/// the rows published.
pub const AFTER_PUBLISH_BEFORE_MARK: &str = "after-publish-before-mark";
/// The consumer committed its transaction but has not acked the message.
pub const AFTER_COMMIT_BEFORE_ACK: &str = "after-commit-before-ack";

/// Whether `name` is the crash point armed in this process.
pub fn is_armed(name: &str) -> bool {
    std::env::var(CRASH_POINT_VAR).is_ok_and(|armed| armed == name)
}

fn announce(name: &str) {
    let mut stdout = std::io::stdout().lock();
    // If stdout is gone the test is gone too; parking is still right.
    let _ = writeln!(stdout, "{CRASH_POINT_LINE} {name} reached");
    let _ = stdout.flush();
}

/// Announces the point on stdout and never returns.
pub async fn park(name: &str) -> ! {
    announce(name);
    match std::future::pending::<std::convert::Infallible>().await {}
}

/// [`park`] for synchronous code (a hook): announces the point and blocks
/// this thread forever.
pub fn park_thread(name: &str) -> ! {
    announce(name);
    loop {
        std::thread::park();
    }
}
