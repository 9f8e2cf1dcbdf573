//! The real binary in a pseudo-terminal, read through a terminal emulator (vt100): what an
//! operator would see, every distinct screen of it kept.

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) struct Terminal {
    parser: Arc<Mutex<vt100::Parser>>,
    screens: Arc<Mutex<Vec<String>>>,
    keys: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    pump: std::thread::JoinHandle<()>,
}

/// What was left when the program ended.
pub(crate) struct Ended {
    pub success: bool,
    /// The exit code; None when a signal ended the program.
    pub code: Option<u32>,
    /// The terminal reads lines again (canonical mode with echo), as before the program took it raw.
    pub canonical: bool,
    pub screen: vt100::Screen,
    /// Every distinct screen drawn, in order.
    pub screens: Vec<String>,
}

impl Terminal {
    /// Starts `repool ARGS` on a 40×160 terminal with its data and config in `dir`.
    pub(crate) fn repool(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::repool_sized(dir, args, env, (40, 160))
    }

    /// `repool` on a terminal of `rows`×`cols`.
    pub(crate) fn repool_sized(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)], size: (u16, u16)) -> Self {
        Self::binary_sized(env!("CARGO_BIN_EXE_repool"), dir, args, env, size)
    }

    /// Another build of repool, `binary` (the benchmarks' baseline), on a terminal of `rows`×`cols`.
    pub(crate) fn binary_sized(
        binary: &str,
        dir: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
        (rows, cols): (u16, u16),
    ) -> Self {
        let pty = native_pty_system().openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut command = CommandBuilder::new(binary);
        command.args(args);
        for var in super::INHERITED_SETTINGS {
            command.env_remove(var);
        }
        command.env("REPOOL_DATA_DIR", dir);
        command.env("XDG_CONFIG_HOME", dir);
        command.env("TERM", "xterm-256color");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = pty.slave.spawn_command(command).unwrap();
        drop(pty.slave);
        let size = |n| std::num::NonZeroU16::new(n).unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(size(rows), size(cols), 0)));
        let screens = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let (feed, history) = (parser.clone(), screens.clone());
        let pump = std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let mut parser = feed.lock().unwrap();
                parser.process(&buffer[..n]);
                let text = parser.screen().contents();
                let mut history = history.lock().unwrap();
                if history.last() != Some(&text) {
                    history.push(text);
                }
            }
        });
        let keys = pty.master.take_writer().unwrap();
        Terminal { parser, screens, keys, child, master: pty.master, pump }
    }

    pub(crate) fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// The program's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.process_id().expect("the program runs")
    }

    pub(crate) fn on_alternate_screen(&self) -> bool {
        self.parser.lock().unwrap().screen().alternate_screen()
    }

    /// Waits (bounded) until the screen shows `needle`.
    pub(crate) fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.text().contains(needle) {
            assert!(Instant::now() < deadline, "'{needle}' never appeared; screen:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits (bounded) until the screen no longer shows `needle`.
    pub(crate) fn wait_without(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.text().contains(needle) {
            assert!(Instant::now() < deadline, "'{needle}' never went away; screen:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub(crate) fn send(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    /// Marks the selected pool and recreates it through the typed confirmation, until it is done.
    pub(crate) fn mark_and_recreate(&mut self, id: &str) {
        self.mark_and_start(id);
        // The run's summary line, not the banner's "deleted, not yet recreated".
        self.wait_for(&format!("{id} recreated"));
    }

    /// Marks the selected pool and starts its recreation through the typed confirmation.
    pub(crate) fn mark_and_start(&mut self, id: &str) {
        self.send(" ");
        self.wait_for("marked 1");
        self.send("R");
        self.wait_for(&format!("Type {id} and press enter"));
        self.send(&format!("{id}\r"));
    }

    /// SIGKILL, as a crash or `kill -9` would end it: no clean-up runs.
    pub(crate) fn kill9(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// Sends the program the signal `name` (TERM, HUP, INT…), as `kill -s` would.
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.pid().to_string();
        assert!(std::process::Command::new("kill").args(["-s", name, &pid]).status().unwrap().success());
    }

    /// Waits (bounded) for the program to exit and the output to drain.
    pub(crate) fn end(mut self) -> Ended {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the program did not exit; screen:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        // The pty keeps its line settings after the program: what the shell would get back.
        let fd = self.master.as_raw_fd().expect("a unix pty");
        // SAFETY: tcgetattr fills a zeroed termios from an open descriptor.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(fd, &mut termios) }, 0, "tcgetattr on the pty");
        let canonical = termios.c_lflag & libc::ICANON != 0 && termios.c_lflag & libc::ECHO != 0;
        drop(self.keys);
        drop(self.master);
        let _ = self.pump.join();
        let screen = self.parser.lock().unwrap().screen().clone();
        let screens = std::mem::take(&mut *self.screens.lock().unwrap());
        let code = status.signal().is_none().then(|| status.exit_code());
        Ended { success: status.success(), code, canonical, screen, screens }
    }
}
