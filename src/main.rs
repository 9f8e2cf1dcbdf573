//! Parse the command line, install error reporting, hand over to `dispatch`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    repool::signals::hold();
    repool::files::private_by_default();
    let cli = repool::cli::Cli::parse();
    let is_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let theme = if is_tty { color_eyre::config::Theme::dark() } else { color_eyre::config::Theme::new() };
    if let Err(e) = color_eyre::config::HookBuilder::default().theme(theme).display_env_section(false).install() {
        eprintln!("warning: cannot install error reporting: {e}");
    }
    repool::dispatch::main(cli)
}
