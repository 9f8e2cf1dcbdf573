//! The real `repool demo` in a pseudo-terminal, read through a terminal emulator: mark a pool,
//! recreate it with the typed confirmation, watch it finish, quit, and find the terminal restored.

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
}

impl Screen {
    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits (bounded) until the screen shows `needle`.
    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.text().contains(needle) {
            assert!(Instant::now() < deadline, "'{needle}' never appeared; screen:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

#[test]
fn demo_recreates_a_pool_and_restores_the_terminal() {
    let data = tempfile::tempdir().unwrap();
    let pty = native_pty_system().openpty(PtySize { rows: 40, cols: 160, pixel_width: 0, pixel_height: 0 }).unwrap();
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_repool"));
    command.args(["demo", "--speed", "3000"]);
    command.env("REPOOL_DATA_DIR", data.path());
    command.env("XDG_CONFIG_HOME", data.path());
    command.env("TERM", "xterm-256color");
    let mut child = pty.slave.spawn_command(command).unwrap();
    drop(pty.slave);
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZeroU16::new(40).unwrap(),
        std::num::NonZeroU16::new(160).unwrap(),
        0,
    )));
    let mut reader = pty.master.try_clone_reader().unwrap();
    let feed = parser.clone();
    let pump = std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 {
                break;
            }
            feed.lock().unwrap().process(&buffer[..n]);
        }
    });
    let mut keys = pty.master.take_writer().unwrap();
    let mut send = |text: &str| {
        keys.write_all(text.as_bytes()).unwrap();
        keys.flush().unwrap();
    };
    let screen = Screen { parser: parser.clone() };
    screen.wait_for("p-render");
    screen.wait_for("changes");
    assert!(parser.lock().unwrap().screen().alternate_screen(), "the dashboard draws on the alternate screen");
    send("/p-render\r");
    send(" ");
    screen.wait_for("marked 1");
    send("R");
    screen.wait_for("Type p-render and press enter");
    send("p-render\r");
    screen.wait_for("recreated");
    screen.wait_for("in sync");
    send("q");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    drop(pty.master);
    let _ = pump.join();
    let screen = parser.lock().unwrap();
    assert!(!screen.screen().alternate_screen(), "left the alternate screen");
    assert!(!screen.screen().hide_cursor(), "cursor shown again");
    let journal = std::fs::read_dir(data.path().join("demo/journal")).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(journal).unwrap();
    assert!(text.contains("\"event\":\"pool-finished\",\"pool\":\"p-render\",\"status\":\"recreated\""), "{text}");
    let logs = std::fs::read_dir(data.path().join("logs")).unwrap().count();
    assert!(logs > 0, "logs went to the log file");
}
